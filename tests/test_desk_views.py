import uuid
from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents import services
from agents.choices import Direction, MessageStatus
from agents.models import Message
from tests.factories import make_contact, next_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent():
    return get_user_model().objects.create_user("agent", password="not-used-here")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def receive_inbound(body: str, *, from_number: str | None = None) -> Message:
    return services.receive_sms(
        from_number=from_number or next_phone(), body=body, sid=f"SM{uuid.uuid4().hex}"
    )


def thread_url(conversation_id: int) -> str:
    return reverse("desk:conversation-detail", args=[conversation_id])


def reply_url(conversation_id: int) -> str:
    return reverse("desk:conversation-reply", args=[conversation_id])


def outbound_messages() -> list[tuple]:
    return list(
        Message.objects.filter(direction=Direction.OUTBOUND).values_list(
            "conversation_id", "body", "status", "idempotency_key"
        )
    )


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/desk/", id="list"),
        pytest.param("/desk/conversations/1/", id="thread"),
    ],
)
def test_desk_redirects_an_anonymous_user_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_desk_lists_conversations_latest_first_with_their_last_message(
    agent_client,
):
    first = receive_inbound("Hi, is this Regal?")
    second = receive_inbound("What are your hours?")
    receive_inbound("Thanks, see you", from_number=first.conversation.contact.phone)

    response = agent_client.get("/desk/")

    assert response.status_code == 200
    assert [
        (conversation.pk, conversation.last_body)
        for conversation in response.context["conversations"]
    ] == [
        (first.conversation_id, "Thanks, see you"),
        (second.conversation_id, "What are your hours?"),
    ]


def test_desk_list_shows_the_preview_of_the_last_message(agent_client):
    message = receive_inbound("Can I change my delivery address?")

    response = agent_client.get("/desk/")

    assert (
        f'data-conversation-id="{message.conversation_id}" '
        f'data-last-message-id="{message.pk}"'
    ) in response.text
    assert (
        '<span class="preview">Can I change my delivery address?</span>'
        in response.text
    )


def test_desk_list_marks_an_outbound_last_message_as_yours(agent_client):
    contact = make_contact(first_name="Ada", sms_consent=True)
    services.queue_sms(contact, body="Your order shipped", idempotency_key="k1")

    response = agent_client.get("/desk/")

    assert '<span class="preview">You: Your order shipped</span>' in response.text


def test_desk_list_page_gives_its_websocket_what_it_has_seen(agent_client):
    receive_inbound("older")
    newest = receive_inbound("newer")
    before = timezone.now()

    response = agent_client.get("/desk/")

    watermark = response.context["watermark"]
    assert watermark["after"] == newest.pk
    assert before <= datetime.fromisoformat(watermark["since"]) <= timezone.now()
    assert (
        '<script id="desk-watermark" type="application/json">'
        f'{{"after": {newest.pk}, "since": "{watermark["since"]}"}}</script>'
    ) in response.text


@pytest.mark.parametrize("conversations", [1, 5])
def test_desk_list_runs_the_same_queries_however_many_conversations(
    agent_client, django_assert_num_queries, conversations
):
    for number in range(conversations):
        receive_inbound(f"message {number}")

    # Session, user, the newest message id, the conversations.
    with django_assert_num_queries(4):
        response = agent_client.get("/desk/")

    assert len(response.context["conversations"]) == conversations


def test_thread_lists_the_messages_oldest_first(agent_client):
    first = receive_inbound("Do you deliver on Sundays?")
    contact = first.conversation.contact
    services.queue_sms(contact, body="We do, 9 to 5", idempotency_key="k1")
    receive_inbound("Great, thanks", from_number=contact.phone)

    response = agent_client.get(thread_url(first.conversation_id))

    assert response.status_code == 200
    assert [
        (message.direction, message.body) for message in response.context["messages"]
    ] == [
        ("inbound", "Do you deliver on Sundays?"),
        ("outbound", "We do, 9 to 5"),
        ("inbound", "Great, thanks"),
    ]


def test_thread_runs_the_same_queries_however_many_messages(
    agent_client, django_assert_num_queries
):
    first = receive_inbound("one")
    for body in ("two", "three", "four"):
        receive_inbound(body, from_number=first.conversation.contact.phone)

    # Session, user, the conversation, the newest message id, the messages,
    # the contact's consent.
    with django_assert_num_queries(6):
        response = agent_client.get(thread_url(first.conversation_id))

    assert len(response.context["messages"]) == 4


def test_thread_of_an_unknown_conversation_is_not_found(agent_client):
    message = receive_inbound("hello")

    response = agent_client.get(thread_url(message.conversation_id + 1))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("sms_consent", "note"),
    [
        pytest.param(True, "Agreed to receive SMS", id="consenting"),
        pytest.param(
            False,
            "Has not agreed to receive SMS: replies are not sent",
            id="not-consenting",
        ),
    ],
)
def test_thread_says_whether_the_contact_agreed_to_sms(agent_client, sms_consent, note):
    contact = make_contact(sms_consent=sms_consent)
    message = services.queue_sms(contact, body="Hello", idempotency_key="k1")

    response = agent_client.get(thread_url(message.conversation_id))

    assert f">{note}</p>" in response.text


def test_reply_queues_an_sms_to_the_contact(agent_client):
    message = receive_inbound("Can someone call me?")
    token = uuid.uuid4().hex

    response = agent_client.post(
        reply_url(message.conversation_id),
        {"body": "Calling you in five minutes", "token": token},
    )

    assert response.status_code == 302
    assert response["Location"] == thread_url(message.conversation_id)
    assert outbound_messages() == [
        (
            message.conversation_id,
            "Calling you in five minutes",
            MessageStatus.PENDING,
            f"desk-reply:{token}",
        )
    ]


def test_reply_posted_in_the_background_answers_no_content(agent_client):
    message = receive_inbound("Can someone call me?")
    token = uuid.uuid4().hex

    response = agent_client.post(
        reply_url(message.conversation_id),
        {"body": "On it", "token": token},
        headers={"X-Requested-With": "fetch"},
    )

    assert response.status_code == 204
    assert outbound_messages() == [
        (message.conversation_id, "On it", "pending", f"desk-reply:{token}")
    ]


def test_reply_posted_twice_with_one_token_queues_one_sms(agent_client):
    message = receive_inbound("Can someone call me?")
    form = {"body": "Calling you now", "token": uuid.uuid4().hex}

    agent_client.post(reply_url(message.conversation_id), form)
    response = agent_client.post(reply_url(message.conversation_id), form)

    assert response.status_code == 302
    assert len(outbound_messages()) == 1


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"body": "  ", "token": uuid.uuid4().hex}, id="blank-body"),
        pytest.param({"body": "x" * 1601, "token": uuid.uuid4().hex}, id="too-long"),
        pytest.param({"body": "Hello"}, id="no-token"),
        pytest.param({"body": "Hello", "token": "not-a-token"}, id="bad-token"),
    ],
)
def test_reply_that_is_not_valid_queues_nothing(agent_client, form):
    message = receive_inbound("Can someone call me?")

    response = agent_client.post(reply_url(message.conversation_id), form)

    assert response.status_code == 400
    assert outbound_messages() == []


def test_reply_without_a_csrf_token_is_refused(agent):
    message = receive_inbound("Can someone call me?")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    response = client.post(
        reply_url(message.conversation_id),
        {"body": "Hello", "token": uuid.uuid4().hex},
    )

    assert response.status_code == 403
    assert outbound_messages() == []


def test_reply_from_an_anonymous_user_is_sent_to_the_login_page(client):
    message = receive_inbound("Can someone call me?")
    path = reply_url(message.conversation_id)

    response = client.post(path, {"body": "Hello", "token": uuid.uuid4().hex})

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"
    assert outbound_messages() == []


def test_reply_to_an_unknown_conversation_is_not_found(agent_client):
    message = receive_inbound("hello")

    response = agent_client.post(
        reply_url(message.conversation_id + 1),
        {"body": "Hello", "token": uuid.uuid4().hex},
    )

    assert response.status_code == 404
    assert outbound_messages() == []


def test_reply_by_get_is_not_allowed(agent_client):
    message = receive_inbound("hello")

    response = agent_client.get(reply_url(message.conversation_id))

    assert response.status_code == 405
    assert outbound_messages() == []
