"""Regal's own `POST /events`, posted over plain HTTP to a live Regal.

The body is one person's traits and one named event; the write key is the
whole Authorization header. Traits come in Regal's shape (`phones` and
`emails` keyed by number and address, each with its own consent) or the older
flat one (`phone`, an `optIn` list, an `address` object).
"""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from contacts.models import Contact, ContactConsent, ContactConsentChange
from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.e2e

MOBILE = "+14155552671"
WORK = "+14155552672"
EMAIL = "ada@example.com"
ADDRESS = {
    "street": "1 Market St",
    "city": "San Francisco",
    "state": "CA",
    "postalCode": "94105",
    "country": "US",
}
OPTED_IN_AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
HTTP_TIMEOUT_SECONDS = 10


@pytest.fixture
def source(transactional_db):
    return make_source()


def opt_in(*, text: str, source: str, subscribed: bool = True) -> dict:
    return {
        "subscribed": subscribed,
        "timestamp": OPTED_IN_AT.isoformat(),
        "ip": "203.0.113.9",
        "text": text,
        "source": source,
    }


def keyed_traits() -> dict:
    """Regal's shape: numbers and addresses as keys, consent on each."""
    return {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "timezone": "America/Los_Angeles",
        "plan": "gold",
        "phones": {
            MOBILE: {
                "isPrimary": True,
                "label": "mobile",
                "smsOptIn": opt_in(text="Reply YES", source="web-form"),
            },
            WORK: {
                "label": "work",
                "voiceOptIn": opt_in(text="Call me at work", source="call-center"),
            },
        },
        "emails": {
            EMAIL: {
                "isPrimary": True,
                "label": "personal",
                "emailOptIn": opt_in(text="Send me news", source="web-form"),
            }
        },
        "address": ADDRESS,
    }


def regal_event(traits: dict, **overrides) -> dict:
    return {
        "userId": "user-1",
        "traits": traits,
        "name": "Application Started",
        "properties": {"step": 1},
        "originalTimestamp": "2024-05-01T12:30:00Z",
        "eventSource": "web",
        **overrides,
    }


def post_event(url: str, write_key: str, body: dict) -> tuple[int, dict]:
    """POST the body to /events with the raw key as Authorization."""
    request = urllib.request.Request(  # noqa: S310 - the live server's own URL
        f"{url}/events",
        data=json.dumps(body).encode(),
        headers={"Authorization": write_key, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_regal_events_answers_ok(live_regal, source):
    answer = post_event(live_regal.url, source.write_key, regal_event(keyed_traits()))

    assert answer == (200, {"message": "ok", "success": True})


def test_regal_events_keyed_traits_make_contact_with_typed_fields(live_regal, source):
    post_event(live_regal.url, source.write_key, regal_event(keyed_traits()))

    contact = Contact.objects.get()
    assert {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "timezone": contact.timezone,
        "email": contact.email,
        "phones": contact.phones,
        "emails": contact.emails,
        "address": contact.address,
        "properties": contact.properties,
    } == {
        "phone": MOBILE,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "timezone": "America/Los_Angeles",
        "email": EMAIL,
        "phones": [
            {"value": MOBILE, "label": "mobile", "is_primary": True},
            {"value": WORK, "label": "work", "is_primary": False},
        ],
        "emails": [{"value": EMAIL, "label": "personal", "is_primary": True}],
        "address": ADDRESS,
        "properties": {"plan": "gold"},
    }


def test_regal_events_keyed_traits_set_consent_per_channel_and_address(
    live_regal, source
):
    post_event(live_regal.url, source.write_key, regal_event(keyed_traits()))

    contact = Contact.objects.get()
    assert set(
        ContactConsent.objects.filter(contact=contact).values_list(
            "channel", "address", "subscribed"
        )
    ) == {("sms", MOBILE, True), ("voice", WORK, True), ("email", EMAIL, True)}


def test_regal_events_keyed_traits_keep_consent_history(live_regal, source):
    post_event(live_regal.url, source.write_key, regal_event(keyed_traits()))

    assert set(
        ContactConsentChange.objects.values_list(
            "channel", "address", "subscribed", "source", "ip", "text", "occurred_at"
        )
    ) == {
        ("sms", MOBILE, True, "web-form", "203.0.113.9", "Reply YES", OPTED_IN_AT),
        (
            "voice",
            WORK,
            True,
            "call-center",
            "203.0.113.9",
            "Call me at work",
            OPTED_IN_AT,
        ),
        ("email", EMAIL, True, "web-form", "203.0.113.9", "Send me news", OPTED_IN_AT),
    }


def test_regal_events_stores_the_named_event_for_the_contact(live_regal, source):
    post_event(live_regal.url, source.write_key, regal_event(keyed_traits()))

    event = Event.objects.exclude(source__name="regal").get()
    assert {
        "type": event.type,
        "name": event.name,
        "user_id": event.user_id,
        "properties": event.properties,
        "event_source": event.context["eventSource"],
        "original_timestamp": event.original_timestamp,
        "contact_phone": event.contact.phone,
    } == {
        "type": "track",
        "name": "Application Started",
        "user_id": "user-1",
        "properties": {"step": 1},
        "event_source": "web",
        "original_timestamp": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        "contact_phone": MOBILE,
    }


def test_regal_events_flat_traits_make_contact_with_consent(live_regal, source):
    traits = {
        "phone": "(415) 555-2671",
        "firstName": "Ada",
        "optIn": [
            {"channel": "sms", **opt_in(text="Reply YES", source="landing-page")}
        ],
        "address": ADDRESS,
    }

    answer = post_event(live_regal.url, source.write_key, regal_event(traits))

    assert answer == (200, {"message": "ok", "success": True})
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.address, contact.phones) == (
        MOBILE,
        "Ada",
        ADDRESS,
        [{"value": MOBILE, "label": "", "is_primary": True}],
    )
    assert list(
        ContactConsentChange.objects.values_list(
            "channel", "address", "subscribed", "source", "ip", "text", "occurred_at"
        )
    ) == [
        ("sms", MOBILE, True, "landing-page", "203.0.113.9", "Reply YES", OPTED_IN_AT)
    ]


def test_regal_events_refuses_an_unknown_key(live_regal, source):
    answer = post_event(live_regal.url, "no-such-key", regal_event(keyed_traits()))

    assert answer == (
        401,
        {
            "code": "invalid_write_key",
            "message": "no enabled source has this write key",
        },
    )
    assert not Event.objects.exists()
    assert not Contact.objects.exists()
