"""Segment's own Python SDK against a live Regal, over a real socket.

Each call the SDK can make lands as the rows Regal promises: sync mode posts
each call at once; async mode batches them in the SDK's consumer thread and,
with gzip=True, compresses the body.
"""

import threading
from datetime import UTC, datetime

import pytest
from segment.analytics import Client as SegmentClient

from contacts.choices import Channel
from contacts.models import Contact, ContactConsent, ContactConsentChange
from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.e2e

PHONE = "+14155552671"
OPTED_IN_AT = "2024-05-01T12:00:00+00:00"
# The SDK's flush waits on its queue without a limit; ours does not.
FLUSH_TIMEOUT_SECONDS = 20


@pytest.fixture
def source(transactional_db):
    return make_source()


@pytest.fixture
def sync_client(live_regal, source):
    """The SDK posting each call at once, raising on any answer but 200."""
    return SegmentClient(source.write_key, host=live_regal.url, sync_mode=True)


def finish_within(action, seconds: float) -> None:
    """Run a blocking SDK call in a thread; fail if it outlasts `seconds`."""
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{action.__name__} still blocked after {seconds}s"


def stored(message_id: str) -> dict:
    event = Event.objects.get(message_id=message_id)
    return {
        "type": event.type,
        "name": event.name,
        "user_id": event.user_id,
        "previous_id": event.previous_id,
        "group_id": event.group_id,
        "properties": event.properties,
        "traits": event.traits,
    }


def test_segment_sync_identify_makes_contact_with_sms_consent(sync_client, source):
    traits = {
        "phone": "(415) 555-2671",
        "firstName": "Ada",
        "plan": "gold",
        "optIn": [
            {
                "channel": "sms",
                "subscribed": True,
                "timestamp": OPTED_IN_AT,
                "ip": "203.0.113.9",
                "text": "Reply YES to get texts",
                "source": "web-form",
            }
        ],
    }

    sync_client.identify("user-1", traits, message_id="identify-1")

    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.properties) == (
        PHONE,
        "Ada",
        {"plan": "gold"},
    )
    assert Event.objects.get(message_id="identify-1").contact == contact
    consent = ContactConsent.objects.get()
    assert (consent.contact, consent.channel, consent.address, consent.subscribed) == (
        contact,
        Channel.SMS,
        PHONE,
        True,
    )
    change = ContactConsentChange.objects.get()
    assert (change.source, change.ip, change.text, change.occurred_at) == (
        "web-form",
        "203.0.113.9",
        "Reply YES to get texts",
        datetime(2024, 5, 1, 12, tzinfo=UTC),
    )


def test_segment_sync_track_is_stored(sync_client):
    sync_client.track(
        "user-1", "Application Started", {"step": 1}, message_id="track-1"
    )

    assert stored("track-1") == {
        "type": "track",
        "name": "Application Started",
        "user_id": "user-1",
        "previous_id": "",
        "group_id": "",
        "properties": {"step": 1},
        "traits": {},
    }


def test_segment_sync_page_is_stored(sync_client):
    sync_client.page(
        "user-1", "Docs", "Pricing", {"path": "/pricing"}, message_id="page-1"
    )

    assert stored("page-1") == {
        "type": "page",
        "name": "Pricing",
        "user_id": "user-1",
        "previous_id": "",
        "group_id": "",
        "properties": {"path": "/pricing"},
        "traits": {},
    }


def test_segment_sync_screen_is_stored(sync_client):
    sync_client.screen("user-1", "Onboarding", "Welcome", message_id="screen-1")

    assert stored("screen-1") == {
        "type": "screen",
        "name": "Welcome",
        "user_id": "user-1",
        "previous_id": "",
        "group_id": "",
        "properties": {},
        "traits": {},
    }


def test_segment_sync_group_is_stored_with_its_traits(sync_client):
    sync_client.group("user-1", "acme", {"plan": "team"}, message_id="group-1")

    assert stored("group-1") == {
        "type": "group",
        "name": "",
        "user_id": "user-1",
        "previous_id": "",
        "group_id": "acme",
        "properties": {},
        "traits": {"plan": "team"},
    }


def test_segment_sync_alias_joins_the_earlier_id_to_the_user(sync_client):
    sync_client.track(
        event="Viewed Pricing", anonymous_id="visitor-1", message_id="track-1"
    )

    sync_client.alias("visitor-1", "user-1", message_id="alias-1")

    assert stored("alias-1") == {
        "type": "alias",
        "name": "",
        "user_id": "user-1",
        "previous_id": "visitor-1",
        "group_id": "",
        "properties": {},
        "traits": {},
    }
    alias = Event.objects.get(message_id="alias-1")
    assert Event.objects.get(message_id="track-1").profile.merged_into_id == (
        alias.profile_id
    )


def test_segment_async_gzip_batch_is_stored(live_regal, source):
    errors = []
    client = SegmentClient(
        source.write_key,
        host=live_regal.url,
        gzip=True,
        on_error=lambda error, batch: errors.append(error),
    )

    client.identify("user-1", {"phone": PHONE}, message_id="identify-1")
    client.track("user-1", "Application Started", message_id="track-1")
    client.page("user-1", name="Pricing", message_id="page-1")
    client.screen("user-1", name="Welcome", message_id="screen-1")
    finish_within(client.flush, FLUSH_TIMEOUT_SECONDS)
    finish_within(client.shutdown, FLUSH_TIMEOUT_SECONDS)

    assert errors == []
    contact = Contact.objects.get()
    assert contact.phone == PHONE
    assert sorted(
        Event.objects.filter(contact=contact)
        .exclude(source__name="regal")
        .values_list("message_id", "type")
    ) == [
        ("identify-1", "identify"),
        ("page-1", "page"),
        ("screen-1", "screen"),
        ("track-1", "track"),
    ]
