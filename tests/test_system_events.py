"""What Regal records as the contact's own events when ingestion changes a contact,
and which earlier events it hands to campaigns when a phone arrives."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event
from events.services import ingest_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db

HANDED_ON: list[list[int]] = []


def record_hand_off(event_ids: list[int]) -> None:
    HANDED_ON.append(list(event_ids))


@pytest.fixture
def hand_offs(settings):
    settings.REGAL_EVENT_CONSUMERS = [f"{__name__}.record_hand_off"]
    HANDED_ON.clear()
    return HANDED_ON


def identify(phone: str = "+14155550123", **traits) -> dict:
    return {
        "type": "identify",
        "userId": "u-1",
        "traits": {"phone": phone, **traits},
    }


def system_event_names() -> list[str]:
    return list(
        Event.objects.filter(source__name="regal")
        .order_by("pk")
        .values_list("name", flat=True)
    )


def test_identify_with_a_new_phone_records_contact_created():
    ingest_events(make_source(), [identify()])

    assert system_event_names() == ["contact.created"]


def test_identify_with_a_known_phone_records_no_second_contact_created():
    source = make_source()
    ingest_events(source, [identify()])

    ingest_events(source, [identify(firstName="Ada")])

    assert system_event_names() == ["contact.created"]


@pytest.mark.parametrize(
    ("subscribed", "name"),
    [(True, "contact.subscribed"), (False, "contact.unsubscribed")],
    ids=["opt-in", "opt-out"],
)
def test_identify_that_changes_consent_records_it(subscribed, name):
    opt_in = [{"channel": "sms", "subscribed": subscribed}]

    ingest_events(make_source(), [identify(optIn=opt_in)])

    event = Event.objects.get(name=name)
    assert event.properties == {"channel": "sms", "address": "+14155550123"}
    assert event.contact.phone == "+14155550123"


def test_identify_repeating_consent_records_no_second_change():
    source = make_source()
    opt_in = [{"channel": "sms", "subscribed": True}]
    ingest_events(source, [identify(optIn=opt_in)])

    ingest_events(source, [identify(optIn=opt_in)])

    assert system_event_names() == ["contact.created", "contact.subscribed"]


def test_recent_events_sent_before_the_phone_are_handed_on_when_it_arrives(
    hand_offs, django_capture_on_commit_callbacks
):
    source = make_source()
    track = {"type": "track", "userId": "u-1", "event": "Application Started"}
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, [track])
    earlier = Event.objects.get(name="Application Started")
    hand_offs.clear()

    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, [identify()])

    assert [earlier.pk] in hand_offs


def test_old_events_sent_before_the_phone_are_not_handed_on(
    hand_offs, django_capture_on_commit_callbacks
):
    source = make_source()
    long_ago = (timezone.now() - timedelta(days=2)).isoformat()
    track = {
        "type": "track",
        "userId": "u-1",
        "event": "Application Started",
        "timestamp": long_ago,
    }
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, [track])
    earlier = Event.objects.get(name="Application Started")
    hand_offs.clear()

    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(source, [identify()])

    assert all(earlier.pk not in ids for ids in hand_offs)
    assert Event.objects.get(pk=earlier.pk).contact.phone == "+14155550123"
