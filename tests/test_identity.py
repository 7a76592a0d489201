"""Identity: who an event is about, and what identify calls tell us about them.

Driven through the ingestion service, since it is an event that carries the
ids and traits; the HTTP answer is tested in test_ingestion_api.py.
"""

import itertools
from datetime import UTC, datetime

import pytest

from contacts.models import (
    Contact,
    ContactConsent,
    ContactConsentChange,
    Profile,
    ProfileIdentifier,
)
from events.models import Event
from events.services import IngestResult, ingest_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
OTHER_PHONE = "+14155550188"
SMS_OPT_IN = [{"channel": "sms", "subscribed": True}]
SMS_OPT_OUT = [{"channel": "sms", "subscribed": False}]

_message_ids = itertools.count(1)


@pytest.fixture
def source():
    return make_source(name="web")


def send(source, payload: dict) -> IngestResult:
    payload = {"messageId": f"m-{next(_message_ids)}", **payload}
    return ingest_events(source, [payload])


def identify(
    source, traits: dict, *, user_id: str | None = "u-1", **payload
) -> IngestResult:
    return send(
        source, {"type": "identify", "userId": user_id, "traits": traits, **payload}
    )


def track(source, *, user_id: str | None = "u-1", **payload) -> IngestResult:
    return send(
        source, {"type": "track", "event": "Viewed", "userId": user_id, **payload}
    )


def stored_event(result: IngestResult) -> Event:
    (event_id,) = result.stored
    return Event.objects.get(pk=event_id)


@pytest.mark.parametrize(
    "phone",
    ["(415) 555-0123", "415-555-0123", "4155550123", "+1 415 555 0123", 4155550123],
    ids=["national", "dashed", "digits", "international", "number"],
)
def test_identify_makes_contact_with_phone_in_e164(source, phone):
    identify(source, {"phone": phone})

    assert list(Contact.objects.values_list("phone", flat=True)) == [PHONE]


def test_identify_reads_national_phone_in_default_region(source, settings):
    settings.DEFAULT_PHONE_REGION = "GB"

    identify(source, {"phone": "020 7946 0018"})

    assert list(Contact.objects.values_list("phone", flat=True)) == ["+442079460018"]


def test_identify_gives_its_event_and_profile_to_the_contact(source):
    result = identify(source, {"phone": PHONE})

    contact = Contact.objects.get()
    assert stored_event(result).contact == contact
    assert Profile.objects.get().contact == contact


def test_identify_with_known_phone_finds_its_contact_for_the_same_user(source):
    identify(source, {"phone": PHONE})

    result = identify(source, {"phone": "(415) 555-0123"})

    assert Contact.objects.count() == 1
    assert stored_event(result).contact == Contact.objects.get()


def test_identify_with_known_phone_finds_its_contact_for_another_user(source):
    identify(source, {"phone": PHONE}, user_id="u-1")

    result = identify(source, {"phone": PHONE}, user_id="u-2")

    contact = Contact.objects.get()
    assert stored_event(result).contact == contact
    assert Profile.objects.filter(contact=contact).count() == 2


@pytest.mark.parametrize(
    ("earlier_ids", "identify_ids"),
    [
        ({"userId": "u-1"}, {"userId": "u-1"}),
        (
            {"userId": None, "anonymousId": "a-1"},
            {"userId": "u-1", "anonymousId": "a-1"},
        ),
        (
            {"userId": None, "anonymousId": "a-1"},
            {"userId": None, "anonymousId": "a-1"},
        ),
    ],
    ids=["user-id", "anonymous-id-then-user-id", "anonymous-id"],
)
def test_identify_gives_contact_the_events_stored_before(
    source, earlier_ids, identify_ids
):
    earlier = [
        send(source, {"type": "track", "event": "Viewed", **earlier_ids}),
        send(source, {"type": "page", "name": "Pricing", **earlier_ids}),
    ]

    send(source, {"type": "identify", "traits": {"phone": PHONE}, **identify_ids})

    contact = Contact.objects.get()
    assert [stored_event(result).contact for result in earlier] == [contact, contact]


def test_event_under_another_id_after_identify_in_one_batch_goes_to_contact(
    source,
):
    track(source, user_id="u-1", anonymousId="a-1")
    batch = [
        {"type": "identify", "userId": "u-1", "traits": {"phone": PHONE}},
        {"type": "track", "event": "Viewed", "anonymousId": "a-1"},
    ]

    result = ingest_events(source, batch)

    contact = Contact.objects.get()
    assert [event.contact for event in Event.objects.filter(pk__in=result.stored)] == [
        contact,
        contact,
    ]


def test_event_under_another_id_after_new_phone_in_one_batch_goes_to_new_contact(
    source,
):
    identify(source, {"phone": PHONE}, anonymousId="a-1")
    batch = [
        {"type": "track", "event": "Viewed", "anonymousId": "a-1"},
        {"type": "identify", "userId": "u-1", "traits": {"phone": OTHER_PHONE}},
        {"type": "track", "event": "Viewed", "anonymousId": "a-1"},
    ]

    result = ingest_events(source, batch)

    phones = dict(
        Event.objects.filter(pk__in=result.stored).values_list("pk", "contact__phone")
    )
    assert [phones[pk] for pk in result.stored] == [PHONE, OTHER_PHONE, OTHER_PHONE]


def test_identify_gives_contact_the_traits_the_profile_sent_before(source):
    identify(source, {"firstName": "Ada", "plan": "gold"})

    identify(source, {"phone": PHONE})

    contact = Contact.objects.get()
    assert (contact.first_name, contact.properties) == ("Ada", {"plan": "gold"})


def test_identify_with_new_phone_makes_new_contact_for_the_user(source):
    identify(source, {"phone": PHONE})

    result = identify(source, {"phone": OTHER_PHONE})

    new_contact = Contact.objects.get(phone=OTHER_PHONE)
    assert Contact.objects.count() == 2
    assert Profile.objects.get().contact == new_contact
    assert stored_event(result).contact == new_contact


def test_identify_with_new_phone_leaves_history_on_the_old_contact(source):
    first_identify = identify(source, {"phone": PHONE})
    earlier_track = track(source)

    identify(source, {"phone": OTHER_PHONE})

    old_contact = Contact.objects.get(phone=PHONE)
    assert stored_event(first_identify).contact == old_contact
    assert stored_event(earlier_track).contact == old_contact


def test_events_after_a_new_phone_go_to_the_new_contact(source):
    identify(source, {"phone": PHONE})
    identify(source, {"phone": OTHER_PHONE})

    result = track(source)

    assert stored_event(result).contact.phone == OTHER_PHONE


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("12345", "phone '12345' is a short code, not a person's number"),
        ("911", "phone '911' is a short code, not a person's number"),
        ("+1 415 555 01", "phone '+1 415 555 01' is not a valid number"),
        (
            "not a phone",
            "phone 'not a phone' is not a phone number: (1) The string supplied "
            "did not seem to be a phone number.",
        ),
    ],
    ids=["short-code", "emergency-code", "too-short", "words"],
)
def test_identify_with_invalid_phone_keeps_event_without_contact(source, phone, reason):
    result = identify(source, {"phone": phone})

    assert [(w.code, w.message) for w in result.warnings] == [
        ("contact_not_created", reason)
    ]
    assert stored_event(result).contact is None
    assert not Contact.objects.exists()


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", "guest"])
def test_event_with_only_a_generic_user_id_is_rejected(source, generic):
    result = track(source, user_id=generic)

    assert [error.code for error in result.errors] == ["missing_identity"]
    assert not Event.objects.exists()
    assert not Profile.objects.exists()


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", "guest"])
def test_generic_user_id_is_not_taken_as_identity(source, generic):
    result = track(source, user_id=generic, anonymousId="a-1")

    event = stored_event(result)
    assert (event.user_id, event.anonymous_id) == ("", "a-1")
    assert list(ProfileIdentifier.objects.values_list("kind", "value")) == [
        ("anonymous_id", "a-1")
    ]


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", "guest"])
def test_generic_anonymous_id_is_not_taken_as_identity(source, generic):
    track(source, user_id="u-1", anonymousId=generic)

    assert list(ProfileIdentifier.objects.values_list("kind", "value")) == [
        ("user_id", "u-1")
    ]


def test_identify_merges_traits_into_contact_properties(source):
    identify(source, {"phone": PHONE, "plan": "gold", "city": "Oakland"})

    identify(source, {"plan": "platinum", "pets": 2})

    assert Contact.objects.get().properties == {
        "plan": "platinum",
        "city": "Oakland",
        "pets": 2,
    }


def test_identify_writes_reserved_traits_to_typed_fields(source):
    traits = {
        "phone": PHONE,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "timezone": "Europe/London",
        "optIn": SMS_OPT_IN,
        "plan": "gold",
    }

    identify(source, traits)

    contact = Contact.objects.get()
    assert (
        contact.first_name,
        contact.last_name,
        contact.email,
        contact.timezone,
    ) == ("Ada", "Lovelace", "ada@example.com", "Europe/London")
    assert contact.properties == {"plan": "gold"}


def test_identify_keeps_reserved_fields_it_does_not_send(source):
    identify(source, {"phone": PHONE, "firstName": "Ada", "lastName": "Byron"})

    identify(source, {"lastName": "Lovelace"})

    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")


def test_identify_cuts_names_longer_than_their_fields(source):
    identify(source, {"phone": PHONE, "firstName": "A" * 200, "lastName": "B" * 200})

    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("A" * 150, "B" * 150)


def test_identify_keeps_no_email_longer_than_its_field(source):
    # Passes validate_email (at most 320 characters) but not Contact.email (254).
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"

    result = identify(source, {"phone": PHONE, "email": email})

    assert [(w.code, w.message) for w in result.warnings] == [
        ("invalid_email", f"{email!r} is not an e-mail address")
    ]
    assert Contact.objects.get().email == ""
    assert stored_event(result).contact == Contact.objects.get()


def test_identify_opt_in_gives_sms_consent_and_records_it(source):
    result = identify(source, {"phone": PHONE, "optIn": SMS_OPT_IN})

    contact = Contact.objects.get()
    assert contact.has_consent("sms") is True
    assert list(
        ContactConsentChange.objects.values_list(
            "contact", "channel", "subscribed", "source", "occurred_at"
        )
    ) == [
        (
            contact.pk,
            "sms",
            True,
            "identify via source web",
            stored_event(result).timestamp,
        )
    ]


def test_identify_records_every_consent_change(source):
    identify(source, {"phone": PHONE, "optIn": SMS_OPT_IN})

    identify(source, {"optIn": SMS_OPT_OUT})

    contact = Contact.objects.get()
    assert contact.has_consent("sms") is False
    assert list(
        ContactConsentChange.objects.order_by("id").values_list("channel", "subscribed")
    ) == [("sms", True), ("sms", False)]


def test_identify_repeating_consent_records_nothing(source):
    identify(source, {"phone": PHONE, "optIn": SMS_OPT_IN})

    identify(source, {"optIn": SMS_OPT_IN})

    assert ContactConsentChange.objects.count() == 1
    assert list(ContactConsent.objects.values_list("channel", "subscribed")) == [
        ("sms", True)
    ]


def test_identify_records_consent_with_the_source_the_opt_in_names(source):
    opt_in = [{"channel": "sms", "subscribed": True, "source": "checkout form"}]

    identify(source, {"phone": PHONE, "optIn": opt_in})

    assert ContactConsentChange.objects.get().source == "checkout form"


def test_identify_records_consent_at_the_time_of_the_event(source):
    send(
        source,
        {
            "type": "identify",
            "userId": "u-1",
            "timestamp": "2024-05-01T09:30:00Z",
            "traits": {"phone": PHONE, "optIn": SMS_OPT_IN},
        },
    )

    assert ContactConsentChange.objects.get().occurred_at == datetime(
        2024, 5, 1, 9, 30, tzinfo=UTC
    )


def test_identify_with_new_phone_does_not_carry_consent_of_the_old_number(source):
    identify(source, {"phone": PHONE, "optIn": SMS_OPT_IN})

    identify(source, {"phone": OTHER_PHONE})

    new_contact = Contact.objects.get(phone=OTHER_PHONE)
    assert new_contact.has_consent("sms") is False
    assert not ContactConsentChange.objects.filter(contact=new_contact).exists()


def test_identify_with_new_phone_and_opt_in_gives_the_new_number_consent(source):
    identify(source, {"phone": PHONE, "optIn": SMS_OPT_IN})

    identify(source, {"phone": OTHER_PHONE, "optIn": SMS_OPT_IN})

    assert Contact.objects.get(phone=OTHER_PHONE).has_consent("sms") is True


def test_identify_opt_in_without_phone_changes_no_consent(source):
    result = identify(source, {"optIn": SMS_OPT_IN})

    assert stored_event(result).contact is None
    assert not ContactConsent.objects.exists()
    assert not ContactConsentChange.objects.exists()
