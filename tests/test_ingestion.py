"""Ingestion as a service: what is stored, with which time, and who hears of it.

The HTTP answers are tested in test_ingestion_api.py, identity in
test_identity.py.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.models import CampaignEnrollment
from events.models import Event
from events.services import ingest_events
from tests.factories import make_campaign, make_source
from tests.taskqueue import purge_queued_tasks, take_queued_tasks

pytestmark = pytest.mark.django_db

RECEIVED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

# What the recording consumer below has been called with, call by call.
handed_over: list[list[int]] = []


def record_event_ids(event_ids: list[int]) -> None:
    handed_over.append(list(event_ids))


@pytest.fixture
def recording_consumer(settings):
    settings.REGAL_EVENT_CONSUMERS = [f"{__name__}.record_event_ids"]
    handed_over.clear()
    yield handed_over
    handed_over.clear()


@pytest.fixture
def task_queue():
    purge_queued_tasks()
    yield
    purge_queued_tasks()


def track(**overrides) -> dict:
    return {
        "type": "track",
        "messageId": "m-1",
        "userId": "u-1",
        "event": "Application Started",
        **overrides,
    }


def ingest_one(payload: dict, **options) -> Event:
    ingest_events(make_source(), [payload], received_at=RECEIVED_AT, **options)
    return Event.objects.get()


def test_ingest_events_stores_event_with_properties_and_context():
    source = make_source()
    payload = track(
        anonymousId="a-1",
        properties={"plan": "gold", "amount": 12.5},
        context={"ip": "203.0.113.9", "library": {"name": "analytics-python"}},
    )

    ingest_events(source, [payload], received_at=RECEIVED_AT)

    event = Event.objects.get()
    assert (event.source, event.message_id, event.type, event.name) == (
        source,
        "m-1",
        "track",
        "Application Started",
    )
    assert (event.user_id, event.anonymous_id) == ("u-1", "a-1")
    assert event.properties == {"plan": "gold", "amount": 12.5}
    assert event.context == {
        "ip": "203.0.113.9",
        "library": {"name": "analytics-python"},
    }
    assert event.received_at == RECEIVED_AT


def test_ingest_events_adds_batch_context_under_the_event_context():
    payload = track(context={"ip": "203.0.113.9"})

    event = ingest_one(
        payload, batch_context={"ip": "198.51.100.1", "library": {"name": "sdk"}}
    )

    assert event.context == {"ip": "203.0.113.9", "library": {"name": "sdk"}}


def test_ingest_events_stores_nothing_for_replayed_message_id():
    source = make_source()
    ingest_events(source, [track(properties={"try": 1})])

    result = ingest_events(source, [track(properties={"try": 2})])

    assert (result.stored, result.duplicates, result.errors) == ([], 1, [])
    assert list(Event.objects.values_list("properties", flat=True)) == [{"try": 1}]


def test_ingest_events_stores_message_id_repeated_in_one_batch_once():
    source = make_source()

    result = ingest_events(source, [track(), track(event="Other")])

    assert (len(result.stored), result.duplicates, result.errors) == (1, 1, [])
    assert list(Event.objects.values_list("name", flat=True)) == ["Application Started"]


def test_ingest_events_stores_same_message_id_from_another_source():
    ingest_events(make_source(), [track()])

    result = ingest_events(make_source(), [track()])

    assert (len(result.stored), result.duplicates) == (1, 0)
    assert Event.objects.filter(message_id="m-1").count() == 2


def test_ingest_events_gives_event_without_message_id_one_of_its_own():
    source = make_source()

    ingest_events(source, [track(messageId=None), track(messageId=None)])

    message_ids = list(Event.objects.values_list("message_id", flat=True))
    assert len(set(message_ids)) == 2
    for message_id in message_ids:
        prefix, _, rest = message_id.partition("-")
        assert (prefix, str(uuid.UUID(rest))) == ("regal", rest)


def test_ingest_events_takes_client_clock_skew_out_of_original_timestamp():
    # The client's clock is two hours behind: it stamped the event at 10:00:00
    # and sent it at 10:00:30, and the server received it at 12:00:00.
    payload = track(
        originalTimestamp="2024-05-01T10:00:00Z", sentAt="2024-05-01T10:00:30Z"
    )

    event = ingest_one(payload)

    assert event.timestamp == datetime(2024, 5, 1, 11, 59, 30, tzinfo=UTC)
    assert event.original_timestamp == datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert event.sent_at == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


def test_ingest_events_takes_skew_out_with_the_batch_sent_at():
    payload = track(originalTimestamp="2024-05-01T10:00:00Z")

    event = ingest_one(payload, batch_sent_at="2024-05-01T10:00:30Z")

    assert event.timestamp == datetime(2024, 5, 1, 11, 59, 30, tzinfo=UTC)
    assert event.sent_at == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


def test_ingest_events_trusts_explicit_timestamp_without_sent_at():
    event = ingest_one(track(timestamp="2024-04-30T08:15:00+02:00"))

    assert event.timestamp == datetime(2024, 4, 30, 6, 15, 0, tzinfo=UTC)


def test_ingest_events_dates_event_without_times_when_received():
    event = ingest_one(track())

    assert event.timestamp == RECEIVED_AT
    assert (event.original_timestamp, event.sent_at) == (None, None)


@pytest.mark.parametrize(
    "key", ["timestamp", "originalTimestamp"], ids=["timestamp", "original"]
)
def test_ingest_events_reads_naive_time_as_utc(key):
    event = ingest_one(track(**{key: "2024-05-01T09:30:00"}))

    assert event.timestamp == datetime(2024, 5, 1, 9, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "key", ["timestamp", "originalTimestamp"], ids=["timestamp", "original"]
)
def test_ingest_events_dates_event_over_a_day_ahead_when_received(key):
    ahead = RECEIVED_AT + timedelta(days=1, seconds=1)

    event = ingest_one(track(**{key: ahead.isoformat()}))

    assert event.timestamp == RECEIVED_AT


def test_ingest_events_keeps_original_timestamp_over_a_day_ahead():
    ahead = RECEIVED_AT + timedelta(days=2)

    event = ingest_one(track(originalTimestamp=ahead.isoformat()))

    assert event.original_timestamp == ahead


def test_ingest_events_keeps_timestamp_exactly_a_day_ahead():
    ahead = RECEIVED_AT + timedelta(days=1)

    event = ingest_one(track(timestamp=ahead.isoformat()))

    assert event.timestamp == ahead


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-02-30T10:00:00Z", "2024-05-01T25:00:00", 1714557600],
    ids=["words", "no-such-day", "no-such-hour", "number"],
)
def test_ingest_events_rejects_time_that_is_not_iso_8601(value):
    source = make_source()

    result = ingest_events(source, [track(originalTimestamp=value)])

    assert [(error.code, error.message) for error in result.errors] == [
        (
            "invalid_timestamp",
            f"originalTimestamp must be an ISO-8601 date and time, not {value!r}",
        )
    ]
    assert not Event.objects.exists()


def test_ingest_events_hands_stored_ids_to_consumers_on_commit(
    recording_consumer, django_capture_on_commit_callbacks
):
    source = make_source()

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_events(source, [track(messageId="m-1"), track(messageId="m-2")])
        assert recording_consumer == []

    assert recording_consumer == [result.stored]
    assert sorted(result.stored) == sorted(Event.objects.values_list("pk", flat=True))


def test_ingest_events_hands_over_neither_replays_nor_rejected_events(
    recording_consumer, django_capture_on_commit_callbacks
):
    source = make_source()
    ingest_events(source, [track(messageId="seen")])
    batch = [track(messageId="seen"), track(messageId="bad", event=""), track()]

    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, batch)

    assert recording_consumer == [[Event.objects.get(message_id="m-1").pk]]


def test_ingest_events_hands_over_nothing_when_nothing_was_stored(
    recording_consumer, django_capture_on_commit_callbacks
):
    source = make_source()
    ingest_events(source, [track()])

    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, [track()])

    assert recording_consumer == []


def test_ingest_events_enrolls_nobody_and_enqueues_evaluation(
    task_queue, django_capture_on_commit_callbacks
):
    make_campaign(wait=None)
    identify = {
        "type": "identify",
        "messageId": "m-identify",
        "userId": "u-1",
        "traits": {
            "phone": "+14155550123",
            "optIn": [{"channel": "sms", "subscribed": True}],
        },
    }

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_events(make_source(), [identify, track()])

    assert not CampaignEnrollment.objects.exists()
    assert Event.objects.get(message_id="m-1").contact.phone == "+14155550123"
    system_events = Event.objects.filter(source__name="regal").order_by("pk")
    assert [event.name for event in system_events] == [
        "contact.created",
        "contact.subscribed",
    ]
    assert take_queued_tasks() == [
        *(
            ("campaigns.tasks.evaluate_events_task", ([event.pk],))
            for event in system_events
        ),
        ("campaigns.tasks.evaluate_events_task", (result.stored,)),
    ]
