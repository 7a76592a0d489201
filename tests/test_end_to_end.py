"""The main job, end to end, over real sockets.

Daphne and the q cluster run as real processes on the test database. Events
go in through Segment's own Python SDK; SMS go out through the real twilio
client to the local Twilio stand-in; replies and status callbacks come back
signed as Twilio signs them, and reach the desk over its websocket.

A test that proves nothing was sent waits for something that shows the
moment has passed: an enrollment that has exited, or the SMS of a control
contact who started after the watched one, by when the watched contact's SMS,
had it been due, would have gone too.
"""

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from segment.analytics import Client as SegmentClient
from websockets.sync.client import connect

from agents.choices import MessageStatus
from agents.models import Message
from campaigns.choices import EnrollmentStatus
from campaigns.models import CampaignEnrollment
from contacts.models import Contact
from events.models import Event
from tests.factories import make_campaign, make_source, next_phone
from tests.live import running_regal, wait_for
from tests.twilio_webhooks import inbound_sms_params, post_webhook

pytestmark = pytest.mark.e2e

WAIT = timedelta(seconds=2)
TEMPLATE = "Hi {{ contact.first_name }}, your application is one step from done"
# The wait, a tick, and the hops between processes, with room for a slow CI.
SMS_TIMEOUT = 20
DB_TIMEOUT = 10
SOCKET_TIMEOUT = 10


@pytest.fixture
def live(transactional_db, tmp_path, twilio_standin):
    """Regal's processes, sending through the Twilio stand-in.

    Stopped before transactional_db flushes the tables, and before the
    stand-in stops, since fixtures tear down in reverse order.
    """
    with running_regal(tmp_path, env=twilio_standin.settings()) as live:
        yield live


@pytest.fixture
def source(transactional_db):
    return make_source()


@pytest.fixture
def campaign(transactional_db):
    return make_campaign(wait=WAIT, body=TEMPLATE)


@pytest.fixture
def analytics(live, source):
    """Segment's SDK, sending each call at once to Regal's ingestion API."""
    return SegmentClient(source.write_key, host=live.url, sync_mode=True)


def national(phone: str) -> str:
    """+14155550042 as a person types it: (415) 555-0042."""
    return f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"


def start_application(
    analytics, *, user_id: str, phone: str, first_name: str, consent: bool = True
) -> None:
    traits = {"phone": national(phone), "firstName": first_name}
    if consent:
        traits["optIn"] = [{"channel": "sms", "subscribed": True}]
    analytics.identify(user_id, traits, message_id=f"{user_id}:identify")
    analytics.track(
        user_id,
        "Application Started",
        {"product": "personal-loan"},
        message_id=f"{user_id}:started",
    )


def messages_to(twilio_standin, phone: str) -> list:
    return [sent for sent in twilio_standin.messages if sent.params["To"] == phone]


def wait_for_sms_to(twilio_standin, live, phone: str):
    """Wait for the first SMS the stand-in accepted for this phone; return it."""
    sent = wait_for(
        lambda: messages_to(twilio_standin, phone),
        timeout=SMS_TIMEOUT,
        message=f"no SMS to {phone} within {SMS_TIMEOUT}s\n{live.logs()}",
    )
    return sent[0]


def wait_for_row(live, queryset, *, what: str):
    return wait_for(
        lambda: queryset.first(),
        timeout=DB_TIMEOUT,
        message=f"{what} not in the database within {DB_TIMEOUT}s\n{live.logs()}",
    )


def signed_in_cookie() -> str:
    user = get_user_model().objects.create_user("agent", password="not-used-here")
    client = Client()
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def test_campaign_texts_a_consenting_contact_once_after_the_wait(
    live, twilio_standin, analytics, campaign
):
    phone = next_phone()
    started = time.monotonic()

    start_application(analytics, user_id="ada", phone=phone, first_name="Ada")

    sent = wait_for_sms_to(twilio_standin, live, phone)
    assert sent.params == {
        "To": phone,
        "From": twilio_standin.from_number,
        "Body": "Hi Ada, your application is one step from done",
        "StatusCallback": f"{live.url}/twilio/sms/status",
    }, live.logs()
    assert sent.received_at - started >= WAIT.total_seconds()
    message = wait_for_row(
        live, Message.objects.filter(twilio_sid=sent.sid), what="the sent SMS"
    )
    assert (message.conversation.contact.phone, message.status) == (
        phone,
        MessageStatus.QUEUED,
    )
    # A completed enrollment runs no further step: nothing more can be sent.
    wait_for_row(
        live,
        CampaignEnrollment.objects.filter(
            contact__phone=phone, status=EnrollmentStatus.COMPLETED
        ),
        what="the completed enrollment",
    )
    assert len(twilio_standin.messages) == 1, live.logs()


def test_replayed_events_send_nothing_more(
    live, twilio_standin, analytics, source, campaign
):
    phone, control_phone = next_phone(), next_phone()
    start_application(analytics, user_id="ada", phone=phone, first_name="Ada")
    wait_for_sms_to(twilio_standin, live, phone)
    events = Event.objects.filter(source=source).count()

    start_application(analytics, user_id="ada", phone=phone, first_name="Ada")

    assert Event.objects.filter(source=source).count() == events
    start_application(
        analytics, user_id="grace", phone=control_phone, first_name="Grace"
    )
    wait_for_sms_to(twilio_standin, live, control_phone)
    assert [sent.params["To"] for sent in twilio_standin.messages] == [
        phone,
        control_phone,
    ], live.logs()


def test_exit_event_during_the_wait_sends_nothing(
    live, twilio_standin, analytics, campaign
):
    phone = next_phone()
    start_application(analytics, user_id="ada", phone=phone, first_name="Ada")

    analytics.track("ada", "Application Completed", message_id="ada:completed")

    # An exited enrollment runs no further step, so nothing can be sent after.
    enrollment = wait_for_row(
        live,
        CampaignEnrollment.objects.filter(
            contact__phone=phone, status=EnrollmentStatus.EXITED
        ),
        what="the exited enrollment",
    )
    assert enrollment.exit_reason.startswith("exit event Application Completed")
    assert not Message.objects.filter(conversation__contact__phone=phone).exists()
    assert twilio_standin.requests == [], live.logs()


def test_contact_without_consent_receives_nothing(
    live, twilio_standin, analytics, campaign
):
    phone, control_phone = next_phone(), next_phone()

    start_application(
        analytics, user_id="ada", phone=phone, first_name="Ada", consent=False
    )

    start_application(
        analytics, user_id="grace", phone=control_phone, first_name="Grace"
    )
    wait_for_sms_to(twilio_standin, live, control_phone)
    assert messages_to(twilio_standin, phone) == [], live.logs()
    assert Contact.objects.filter(phone=phone).exists()
    assert not CampaignEnrollment.objects.filter(contact__phone=phone).exists()
    assert not Message.objects.filter(conversation__contact__phone=phone).exists()


def test_status_callback_marks_the_sms_delivered(
    live, twilio_standin, analytics, campaign
):
    phone = next_phone()
    start_application(analytics, user_id="ada", phone=phone, first_name="Ada")
    sent = wait_for_sms_to(twilio_standin, live, phone)
    wait_for_row(live, Message.objects.filter(twilio_sid=sent.sid), what="the SMS")

    response = twilio_standin.post_status_callback(sent, "delivered")

    assert response.status == 204, live.logs()
    message = Message.objects.get(twilio_sid=sent.sid)
    assert message.status == MessageStatus.DELIVERED


def test_signed_reply_reaches_the_desk_and_the_database(live, twilio_standin):
    phone = next_phone()
    params = inbound_sms_params(from_number=phone, body="Yes, call me after five")
    desk = connect(
        live.url.replace("http://", "ws://") + "/ws/desk/",
        origin=live.url,
        additional_headers={"Cookie": signed_in_cookie()},
        proxy=None,
        open_timeout=SOCKET_TIMEOUT,
    )

    with desk:
        response = post_webhook(
            f"{live.url}/twilio/sms", params, token=twilio_standin.auth_token
        )
        frame = json.loads(desk.recv(timeout=SOCKET_TIMEOUT))

    assert response.status == 200, live.logs()
    message = Message.objects.get(twilio_sid=params["MessageSid"])
    assert frame["type"] == "message"
    assert {
        key: frame["message"][key]
        for key in ("id", "conversation_id", "direction", "body", "status")
    } == {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "direction": "inbound",
        "body": "Yes, call me after five",
        "status": "received",
    }
    assert frame["message"]["contact"]["phone"] == phone


def test_replies_not_signed_with_the_auth_token_are_refused(live, twilio_standin):
    phone = next_phone()
    unsigned = inbound_sms_params(from_number=phone, body="Hello")
    forged = inbound_sms_params(from_number=phone, body="Hello")

    responses = [
        post_webhook(f"{live.url}/twilio/sms", unsigned, sign=False),
        post_webhook(f"{live.url}/twilio/sms", forged, token="not-the-auth-token"),
    ]

    refusal = {
        "code": "invalid_signature",
        "message": "the X-Twilio-Signature header does not match this request",
    }
    assert [(r.status, json.loads(r.body)) for r in responses] == [
        (403, refusal),
        (403, refusal),
    ], live.logs()
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone=phone).exists()
