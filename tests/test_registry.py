"""The registry of event names and property keys, each with its first-seen type."""

from datetime import UTC, datetime

import pytest

from events import registry
from events.models import EventName, PropertyKey
from events.parsing import parse_event
from events.services import ingest_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db

RECEIVED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def forget_recorded():
    """Start each test with a process that has recorded nothing.

    The registry remembers what it recorded for the life of the process,
    while each test's rows are rolled back.
    """
    registry.remembered.clear()
    yield
    registry.remembered.clear()


@pytest.fixture
def source():
    return make_source()


def track(name: str = "Viewed", message_id: str = "m-1", **properties) -> dict:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": "u-1",
        "event": name,
        "properties": properties,
    }


def identify(message_id: str = "m-1", **traits) -> dict:
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": "u-1",
        "traits": traits,
    }


def recorded_keys() -> list[tuple[str, str, str, str]]:
    return sorted(PropertyKey.objects.values_list("scope", "event_name", "key", "type"))


@pytest.mark.parametrize(
    ("payload", "recorded"),
    [
        (track("Application Started"), ("Application Started", "track")),
        (
            {"type": "page", "messageId": "m-1", "userId": "u-1", "name": "Pricing"},
            ("Pricing", "page"),
        ),
        (
            {"type": "screen", "messageId": "m-1", "userId": "u-1", "name": "Home"},
            ("Home", "screen"),
        ),
    ],
    ids=["track", "page", "screen"],
)
def test_ingesting_records_the_event_name_with_its_type(source, payload, recorded):
    ingest_events(source, [payload])

    assert list(EventName.objects.values_list("name", "type")) == [recorded]


def test_identify_records_no_event_name(source):
    ingest_events(source, [identify(plan="gold")])

    assert not EventName.objects.exists()


@pytest.mark.parametrize(
    ("value", "expected_type"),
    [
        ("gold", "string"),
        (3, "number"),
        (2.5, "number"),
        (True, "boolean"),
        ("2026-03-02T09:00:00Z", "datetime"),
        ("2026-03-02", "datetime"),
        ({"city": "Oakland"}, "object"),
        (["a", "b"], "array"),
        (None, "null"),
        ("2026-13-45T99:00:00Z", "string"),
        ("12345678901", "string"),
    ],
    ids=[
        "string",
        "integer",
        "float",
        "boolean",
        "datetime",
        "date",
        "object",
        "array",
        "null",
        "impossible-date",
        "digits",
    ],
)
def test_event_property_is_recorded_with_its_type(source, value, expected_type):
    ingest_events(source, [track("Viewed", plan=value)])

    assert recorded_keys() == [("event", "Viewed", "plan", expected_type)]


def test_event_properties_are_recorded_per_event_name(source):
    ingest_events(
        source,
        [
            track("Viewed", message_id="m-1", amount=10),
            track("Paid", message_id="m-2", amount="ten"),
        ],
    )

    assert recorded_keys() == [
        ("event", "Paid", "amount", "string"),
        ("event", "Viewed", "amount", "number"),
    ]


def test_identify_traits_are_recorded_under_contact_scope(source):
    ingest_events(source, [identify(plan="gold", pets=2, vip=True)])

    assert recorded_keys() == [
        ("contact", "", "pets", "number"),
        ("contact", "", "plan", "string"),
        ("contact", "", "vip", "boolean"),
    ]


def test_identify_traits_in_the_context_are_recorded_under_contact_scope(source):
    # RudderStack sends an identify's traits in context.traits.
    payload = {
        "type": "identify",
        "messageId": "m-1",
        "userId": "u-1",
        "context": {"traits": {"plan": "gold"}},
    }

    ingest_events(source, [payload])

    assert recorded_keys() == [("contact", "", "plan", "string")]


def test_traits_of_a_track_call_are_not_recorded_as_contact_traits(source):
    ingest_events(source, [{**track("Viewed"), "traits": {"plan": "gold"}}])

    assert recorded_keys() == []


def test_regal_event_traits_are_recorded_under_contact_scope(source):
    payload = {**track("Applied", step=2), "traits": {"plan": "gold"}}

    ingest_events(source, [payload], traits_identify=True)

    assert recorded_keys() == [
        ("contact", "", "plan", "string"),
        ("event", "Applied", "step", "number"),
    ]


@pytest.mark.parametrize(
    "forgotten", [False, True], ids=["same-process", "after-the-process-forgets"]
)
def test_later_event_with_another_type_keeps_the_first_seen_type(source, forgotten):
    ingest_events(source, [track("Viewed", message_id="m-1", amount=10)])
    if forgotten:
        registry.remembered.clear()

    ingest_events(source, [track("Viewed", message_id="m-2", amount="ten")])

    assert recorded_keys() == [("event", "Viewed", "amount", "number")]


@pytest.mark.parametrize(
    "forgotten", [False, True], ids=["same-process", "after-the-process-forgets"]
)
def test_later_trait_with_another_type_keeps_the_first_seen_type(source, forgotten):
    ingest_events(source, [identify(message_id="m-1", vip=True)])
    if forgotten:
        registry.remembered.clear()

    ingest_events(source, [identify(message_id="m-2", vip="yes")])

    assert recorded_keys() == [("contact", "", "vip", "boolean")]


def test_first_event_in_a_batch_sets_the_type(source):
    ingest_events(
        source,
        [
            track("Viewed", message_id="m-1", amount=None),
            track("Viewed", message_id="m-2", amount=10),
        ],
    )

    assert recorded_keys() == [("event", "Viewed", "amount", "null")]


@pytest.mark.parametrize(
    "forgotten", [False, True], ids=["same-process", "after-the-process-forgets"]
)
def test_the_same_batch_twice_adds_nothing(source, forgotten):
    batch = [track("Viewed", message_id="m-1", amount=10), identify("m-2", plan="a")]
    ingest_events(source, batch)
    before = (
        list(EventName.objects.values_list("pk", "name", "type", "first_seen_at")),
        list(PropertyKey.objects.values_list("pk", "key", "type", "first_seen_at")),
    )
    if forgotten:
        registry.remembered.clear()

    ingest_events(source, batch)

    after = (
        list(EventName.objects.values_list("pk", "name", "type", "first_seen_at")),
        list(PropertyKey.objects.values_list("pk", "key", "type", "first_seen_at")),
    )
    assert after == before


def test_the_same_events_with_new_message_ids_add_nothing(source):
    ingest_events(source, [track("Viewed", message_id="m-1", amount=10)])

    ingest_events(source, [track("Viewed", message_id="m-2", amount=11)])

    assert list(EventName.objects.values_list("name", flat=True)) == ["Viewed"]
    assert recorded_keys() == [("event", "Viewed", "amount", "number")]


def test_rejected_event_records_nothing(source):
    ingest_events(source, [{**track("Viewed", amount=10), "userId": None}])

    assert not EventName.objects.exists()
    assert recorded_keys() == []


def test_familiar_events_cost_the_registry_no_query(django_assert_num_queries):
    parsed = [parse_event(track("Viewed", amount=10), received_at=RECEIVED_AT)]
    registry.record_seen(parsed)

    with django_assert_num_queries(0):
        registry.record_seen(parsed)
