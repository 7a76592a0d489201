"""The desk's websocket, driven through Regal's whole ASGI stack.

Each test runs one async scenario to completion with async_to_sync, so the
consumer's database calls run on the test's own thread. The tests are
transactional: channels closes "old" connections around each database call,
which would close a connection held open inside a test's transaction, and
inbound messages broadcast on a real commit. The channel layer is the
configured one: channels-redis with REDIS_URL, else the embedded SQLite layer
on the 'channels' database, hence `__all__`.
"""

from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from agents import consumers, realtime, services
from regal.asgi import application
from tests.factories import make_contact, next_phone

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# The embedded layer polls its table every 0.1s; Redis delivers at once.
RECEIVE_TIMEOUT = 5
QUIET_SECONDS = 1


def signed_in_session_key() -> str:
    user = get_user_model().objects.create_user("agent", password="not-used-here")
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def desk_socket(*, session_key: str = "", query: str = "") -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:8000")]
    if session_key:
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, f"/ws/desk/{query}", headers=headers)


def receive_inbound(body: str, *, from_number: str | None = None):
    return services.receive_sms(
        from_number=from_number or next_phone(), body=body, sid=f"SM-{body}"
    )


def frame(
    message,
    *,
    direction: str = "inbound",
    status: str = "received",
    status_label: str = "Received",
) -> dict:
    contact = message.conversation.contact
    return {
        "type": "message",
        "message": {
            "id": message.pk,
            "conversation_id": message.conversation_id,
            "contact": {
                "id": contact.pk,
                "name": contact.phone,
                "phone": contact.phone,
            },
            "direction": direction,
            "body": message.body,
            "status": status,
            "status_label": status_label,
            "created_at": message.created_at.isoformat(),
            "updated_at": message.updated_at.isoformat(timespec="microseconds"),
        },
    }


def sent_sms(body: str):
    """An outbound SMS the console gateway has sent: its status changed."""
    contact = make_contact(sms_consent=True)
    queued = services.queue_sms(contact, body=body, idempotency_key=f"key-{body}")
    return services.send_pending_sms(queued.pk)


@pytest.mark.parametrize(
    "session_key",
    [pytest.param("", id="no-session"), pytest.param("x" * 32, id="unknown-session")],
)
def test_desk_socket_closes_on_an_anonymous_user_and_sends_nothing(session_key):
    message = receive_inbound("Hello?")

    async def scenario():
        socket = desk_socket(session_key=session_key)
        await socket.connect()
        closed = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
        await sync_to_async(realtime.broadcast_message)(message.pk)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return closed, quiet

    closed, quiet = async_to_sync(scenario)()

    assert closed == {"type": "websocket.close", "code": 4401}
    assert quiet is True


def test_desk_socket_pushes_a_broadcast_message():
    session_key = signed_in_session_key()
    message = receive_inbound("Is the offer still on?")

    async def scenario():
        socket = desk_socket(session_key=session_key)
        connected, _ = await socket.connect()
        await sync_to_async(realtime.broadcast_message)(message.pk)
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await socket.disconnect()
        return connected, received

    connected, received = async_to_sync(scenario)()

    assert connected is True
    assert received == frame(message)


def test_desk_socket_pushes_an_inbound_sms_once_it_is_committed():
    session_key = signed_in_session_key()

    async def scenario():
        socket = desk_socket(session_key=session_key)
        await socket.connect()
        stored = await sync_to_async(receive_inbound)("Call me back")
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await socket.disconnect()
        return stored, received

    stored, received = async_to_sync(scenario)()

    assert received == frame(stored)


def test_desk_socket_replays_the_messages_after_the_given_id_in_order():
    session_key = signed_in_session_key()
    phone = next_phone()
    seen = receive_inbound("first", from_number=phone)
    missed = [
        receive_inbound("second", from_number=phone),
        receive_inbound("third"),
        receive_inbound("fourth", from_number=phone),
    ]

    async def scenario():
        socket = desk_socket(session_key=session_key, query=f"?after={seen.pk}")
        await socket.connect()
        received = [
            await socket.receive_json_from(timeout=RECEIVE_TIMEOUT) for _ in missed
        ]
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert received == [frame(message) for message in missed]
    assert quiet is True


def test_desk_socket_without_after_replays_nothing():
    session_key = signed_in_session_key()
    receive_inbound("already on the page")

    async def scenario():
        socket = desk_socket(session_key=session_key)
        connected, _ = await socket.connect()
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return connected, quiet

    connected, quiet = async_to_sync(scenario)()

    assert (connected, quiet) == (True, True)


def test_desk_socket_asks_a_desk_that_missed_too_much_to_reload(monkeypatch):
    monkeypatch.setattr(consumers, "MAX_REPLAY", 2)
    session_key = signed_in_session_key()
    seen = receive_inbound("seen")
    for body in ("one", "two", "three"):
        receive_inbound(body)

    async def scenario():
        socket = desk_socket(session_key=session_key, query=f"?after={seen.pk}")
        await socket.connect()
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert received == {"type": "reload"}
    assert quiet is True


def test_desk_socket_replays_a_thread_its_messages_changed_since():
    session_key = signed_in_session_key()
    since = timezone.now().isoformat(timespec="microseconds")
    message = sent_sms("Your parcel ships today")
    query = (
        f"?after={message.pk}&conversation={message.conversation_id}"
        f"&since={quote(since)}"
    )

    async def scenario():
        socket = desk_socket(session_key=session_key, query=query)
        await socket.connect()
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert received == frame(
        message, direction="outbound", status="sent", status_label="Sent"
    )
    assert quiet is True


def test_desk_socket_replays_a_thread_no_changes_of_other_conversations():
    session_key = signed_in_session_key()
    since = timezone.now().isoformat(timespec="microseconds")
    other = sent_sms("Your parcel ships today")
    thread = receive_inbound("Where is my parcel?")
    query = (
        f"?after={thread.pk}&conversation={thread.conversation_id}&since={quote(since)}"
    )

    async def scenario():
        socket = desk_socket(session_key=session_key, query=query)
        await socket.connect()
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert other.pk < thread.pk
    assert received == frame(thread)
    assert quiet is True
