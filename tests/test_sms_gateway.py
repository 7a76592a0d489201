"""SMS in and out through agents.services, with the real twilio client.

Outbound tests point Regal's Twilio settings at the local stand-in, so each
send crosses a real HTTP socket to something that answers as Twilio does.
The services are called directly: no q cluster runs, and the on-commit hooks
that would enqueue tasks do not fire inside the test's transaction.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from agents import services
from agents.choices import Direction, MessageStatus
from agents.models import Message
from contacts.choices import Channel
from contacts.models import ContactConsentChange
from contacts.phones import mask_phone
from events.models import Event
from tests.factories import make_contact, next_phone

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://regal.example.com"


@pytest.fixture
def twilio(twilio_standin, settings):
    """The Twilio stand-in, with Regal's settings pointing at it."""
    for name, value in twilio_standin.settings().items():
        setattr(settings, name, value)
    settings.PUBLIC_URL = PUBLIC_URL
    return twilio_standin


def queued_sms(*, body: str = "Hi Ada, finish your application", **contact_fields):
    contact = make_contact(**{"sms_consent": True, **contact_fields})
    return services.queue_sms(contact, body=body, idempotency_key=f"test:{body}")


def test_send_pending_sms_hands_the_sms_to_twilio(twilio):
    message = queued_sms(body="Hi Ada, finish your application")

    services.send_pending_sms(message.pk)

    assert [sent.params for sent in twilio.messages] == [
        {
            "To": message.conversation.contact.phone,
            "From": twilio.from_number,
            "Body": "Hi Ada, finish your application",
            "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status",
        }
    ]


def test_send_pending_sms_records_the_twilio_sid_and_status(twilio):
    message = queued_sms()

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.twilio_sid == twilio.messages[0].sid
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
    assert message.sent_at is not None


def test_send_pending_sms_records_a_sent_event(twilio):
    message = queued_sms()

    services.send_pending_sms(message.pk)

    event = Event.objects.get(name="sms.sent")
    assert event.contact_id == message.conversation.contact_id
    assert event.properties == {"message_id": message.pk, "sid": twilio.messages[0].sid}


def test_send_pending_sms_twice_sends_once(twilio):
    message = queued_sms()
    services.send_pending_sms(message.pk)

    services.send_pending_sms(message.pk)

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.attempts == 1


@pytest.mark.parametrize("sms_consent", [None, False], ids=["never-given", "withdrawn"])
def test_send_pending_sms_without_consent_blocks_the_sms(twilio, sms_consent):
    contact = make_contact(sms_consent=sms_consent)
    message = services.queue_sms(contact, body="Hi", idempotency_key="test:blocked")

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.BLOCKED
    assert message.error == "the contact has no SMS consent"
    assert message.attempts == 0
    assert message.twilio_sid is None
    assert twilio.requests == []
    assert not Event.objects.filter(name="sms.sent").exists()


def test_send_pending_sms_rate_limited_is_retried_later(twilio):
    message = queued_sms()
    twilio.fail_next(status=429)
    before = timezone.now()

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.attempts == 1
    assert message.error == (
        "Twilio refused the message: 429 20429 "
        "Unable to create record: Too Many Requests"
    )
    assert before + timedelta(seconds=30) <= message.next_attempt_at
    assert message.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert message.twilio_sid is None
    assert twilio.messages == []


@pytest.mark.parametrize(
    ("failures", "backoff"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(seconds=60)),
        (3, timedelta(seconds=120)),
    ],
    ids=["first-retry-30s", "second-retry-60s", "third-retry-120s"],
)
def test_send_pending_sms_doubles_the_backoff_at_each_retry(twilio, failures, backoff):
    message = queued_sms()
    twilio.fail_next(failures, status=429)

    for _ in range(failures):
        before = timezone.now()
        services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.attempts == failures
    assert before + backoff <= message.next_attempt_at <= timezone.now() + backoff


def test_send_pending_sms_rate_limited_succeeds_on_the_next_attempt(twilio):
    message = queued_sms()
    twilio.fail_next(status=429)
    services.send_pending_sms(message.pk)

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 2
    assert message.twilio_sid == twilio.messages[0].sid
    assert [request.status for request in twilio.requests] == [429, 201]


def test_send_pending_sms_gives_up_after_max_attempts(twilio):
    message = queued_sms()
    twilio.fail_next(services.MAX_SEND_ATTEMPTS + 1, status=429)
    for _ in range(services.MAX_SEND_ATTEMPTS):
        services.send_pending_sms(message.pk)

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.ERROR
    assert message.attempts == services.MAX_SEND_ATTEMPTS
    assert len(twilio.requests) == services.MAX_SEND_ATTEMPTS
    assert twilio.messages == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "400 21211 Unable to create record: The 'To' number is not a valid "
         "phone number."),
        # A 5xx may hide a message Twilio did take: a retry could text twice.
        (500, "500 20500 Unable to create record: Internal Server Error"),
    ],
    ids=["refused-400", "server-error-500"],
)  # fmt: skip
def test_send_pending_sms_failing_for_good_is_not_retried(twilio, status, error):
    message = queued_sms()
    twilio.fail_next(status=status)

    services.send_pending_sms(message.pk)
    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.ERROR
    assert message.error == f"Twilio refused the message: {error}"
    assert message.attempts == 1
    assert len(twilio.requests) == 1
    assert services.requeue_lost_sms() == 0


def test_send_pending_sms_unreachable_twilio_is_retried_later(twilio):
    message = queued_sms()
    twilio.stop()

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.attempts == 1
    assert message.error.startswith("could not reach Twilio: ")


def test_send_pending_sms_without_credentials_logs_to_the_console(
    twilio, settings, caplog
):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    message = queued_sms(body="Hi Ada")
    phone = message.conversation.contact.phone
    caplog.set_level(logging.INFO, logger="agents.clients.twilio")

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.twilio_sid.startswith("console-")
    assert [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == "agents.clients.twilio"
    ] == [("INFO", f"console SMS {message.twilio_sid} to {mask_phone(phone)}: Hi Ada")]
    assert twilio.requests == []


def test_queue_sms_with_one_key_twice_makes_one_message(
    django_capture_on_commit_callbacks,
):
    contact = make_contact(sms_consent=True)
    first = services.queue_sms(contact, body="Hi", idempotency_key="step:1")

    with django_capture_on_commit_callbacks() as callbacks:
        second = services.queue_sms(contact, body="Hi again", idempotency_key="step:1")

    assert second.pk == first.pk
    assert list(Message.objects.values_list("body", flat=True)) == ["Hi"]
    assert callbacks == []


@pytest.mark.parametrize("body", ["STOP", " stop\n"], ids=["upper", "padded-lower"])
def test_receive_sms_stop_withdraws_sms_consent(body):
    contact = make_contact(sms_consent=True)

    services.receive_sms(from_number=contact.phone, body=body, sid="SM1")

    assert contact.has_consent(Channel.SMS) is False
    change = ContactConsentChange.objects.filter(contact=contact).first()
    assert (change.channel, change.subscribed, change.source, change.text) == (
        Channel.SMS,
        False,
        "sms keyword STOP",
        body,
    )


def test_receive_sms_stop_records_an_unsubscribed_event():
    contact = make_contact(sms_consent=True)

    services.receive_sms(from_number=contact.phone, body="STOP", sid="SM1")

    event = Event.objects.get(name="contact.unsubscribed")
    assert event.contact_id == contact.pk
    assert event.properties == {"channel": "sms", "keyword": "STOP"}


def test_receive_sms_start_gives_sms_consent_back():
    contact = make_contact(sms_consent=False)

    services.receive_sms(from_number=contact.phone, body="START", sid="SM1")

    assert contact.has_consent(Channel.SMS) is True
    change = ContactConsentChange.objects.filter(contact=contact).first()
    assert (change.subscribed, change.source) == (True, "sms keyword START")


def test_receive_sms_stores_the_reply_in_the_senders_conversation():
    contact = make_contact(sms_consent=True)

    message = services.receive_sms(
        from_number=contact.phone, body="Call me later", sid="SM1"
    )

    assert message.conversation.contact_id == contact.pk
    assert (message.direction, message.body, message.status, message.twilio_sid) == (
        Direction.INBOUND,
        "Call me later",
        MessageStatus.RECEIVED,
        "SM1",
    )
    assert contact.has_consent(Channel.SMS) is True


def test_receive_sms_same_sid_twice_stores_nothing_more():
    phone = next_phone()
    services.receive_sms(from_number=phone, body="Hello", sid="SM1")

    repeated = services.receive_sms(from_number=phone, body="Hello", sid="SM1")

    assert repeated is None
    assert Message.objects.count() == 1
    assert Event.objects.filter(name="sms.received").count() == 1


def test_update_sms_status_moves_the_sms_forward(twilio):
    message = queued_sms()
    services.send_pending_sms(message.pk)
    sid = twilio.messages[0].sid

    services.update_sms_status(sid, status="delivered")

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert Event.objects.filter(name="sms.delivered").count() == 1


def test_update_sms_status_late_sent_after_delivered_keeps_delivered(twilio):
    message = queued_sms()
    services.send_pending_sms(message.pk)
    sid = twilio.messages[0].sid
    services.update_sms_status(sid, status="delivered")

    services.update_sms_status(sid, status="sent")

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_update_sms_status_failed_records_the_error_code(twilio):
    message = queued_sms()
    services.send_pending_sms(message.pk)

    services.update_sms_status(
        twilio.messages[0].sid, status="undelivered", error_code="30003"
    )

    message.refresh_from_db()
    assert (message.status, message.error) == (
        MessageStatus.UNDELIVERED,
        "Twilio error 30003",
    )
    assert Event.objects.filter(name="sms.failed").count() == 1


def test_update_sms_status_for_an_unknown_sid_changes_nothing(twilio):
    message = queued_sms()
    services.send_pending_sms(message.pk)

    result = services.update_sms_status(f"SM{'0' * 32}", status="delivered")

    assert result is None
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert not Event.objects.filter(name="sms.delivered").exists()


def test_send_pending_sms_tells_twilio_when_the_sms_stops_being_valid(twilio):
    contact = make_contact(sms_consent=True)
    message = services.queue_sms(
        contact,
        body="Hi",
        idempotency_key="test:validity",
        send_before=timezone.now() + timedelta(hours=1),
    )

    services.send_pending_sms(message.pk)

    (sent,) = twilio.messages
    # Whole seconds from the moment of the send to send_before: an hour, less
    # the time the test took to get there.
    assert 3590 <= int(sent.params["ValidityPeriod"]) <= 3600


def test_send_pending_sms_after_its_send_before_sends_nothing(twilio):
    contact = make_contact(sms_consent=True)
    message = services.queue_sms(
        contact,
        body="Hi",
        idempotency_key="test:late",
        send_before=timezone.now() - timedelta(seconds=1),
    )

    services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.BLOCKED
    assert message.error == "the contact's quiet hours began before it could be sent"
    assert twilio.requests == []


def test_send_pending_sms_sends_its_media_url(twilio):
    contact = make_contact(sms_consent=True)
    message = services.queue_sms(
        contact,
        body="Your card",
        idempotency_key="test:media",
        media_url="https://cdn.example.com/card.png",
    )

    services.send_pending_sms(message.pk)

    (sent,) = twilio.messages
    assert sent.params["MediaUrl"] == ["https://cdn.example.com/card.png"]
    assert sent.resource["num_media"] == "1"


@pytest.mark.parametrize(
    "body", ["Stop.", " STOP! ", "stop?"], ids=["period", "bang", "question"]
)
def test_receive_sms_stop_with_punctuation_withdraws_consent(body):
    contact = make_contact(sms_consent=True)

    services.receive_sms(from_number=contact.phone, body=body, sid="SM1")

    assert contact.has_consent("sms") is False
