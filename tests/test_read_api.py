"""The read API under /api/v1/: who may read, the filters, shapes and pages."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from contacts import services as contact_services
from contacts.choices import Channel
from events.models import Event
from tests.factories import (
    make_api_token,
    make_contact,
    make_event,
    make_profile,
    make_source,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

READ_URLS = pytest.mark.parametrize(
    "url",
    [
        "/api/v1/contacts/",
        "/api/v1/contacts/1/",
        "/api/v1/contacts/1/events/",
        "/api/v1/events/",
    ],
    ids=["contact-list", "contact-detail", "contact-events", "event-list"],
)


def token_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_api_token().key}")
    return client


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


# Who may read ------------------------------------------------------------------


@READ_URLS
def test_read_api_without_credentials_answers_401_with_code_and_message(url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }


@pytest.mark.parametrize(
    "header",
    [basic, lambda key: f"Bearer {key}", lambda key: key],
    ids=["basic", "bearer", "bare"],
)
def test_read_api_refuses_a_write_key(header):
    source = make_source()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header(source.write_key))

    response = client.get("/api/v1/contacts/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_read_api_refuses_a_write_key_sent_as_a_token():
    source = make_source()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {source.write_key}")

    response = client.get("/api/v1/contacts/")

    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Invalid token.",
    }


def test_read_api_answers_a_token():
    contact = make_contact()

    response = token_client().get("/api/v1/contacts/")

    assert response.status_code == 200
    assert ids(response) == [contact.pk]


def test_read_api_answers_signed_in_staff():
    client = APIClient()
    client.force_login(make_api_token(is_staff=True).user)

    response = client.get("/api/v1/contacts/")

    assert response.status_code == 200


def test_read_api_refuses_signed_in_user_who_is_not_staff():
    client = APIClient()
    client.force_login(make_api_token().user)

    response = client.get("/api/v1/contacts/")

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "send an API token, or sign in as staff",
    }


@pytest.mark.parametrize(
    "header",
    [basic, lambda key: f"Bearer {key}", lambda key: f"Token {key}"],
    ids=["basic", "bearer", "token"],
)
def test_ingestion_refuses_an_api_token(header):
    make_source()
    token = make_api_token()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header(token.key))

    response = client.post(
        "/v1/track",
        data=json.dumps({"userId": "u-1", "event": "Application Started"}),
        content_type="application/json",
    )

    assert response.status_code == 401
    assert response.json()["code"] in {"invalid_write_key", "not_authenticated"}
    assert Event.objects.count() == 0


def test_ingestion_still_takes_a_write_key_under_the_closed_defaults():
    source = make_source()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(source.write_key))

    response = client.post(
        "/v1/track",
        data=json.dumps({"userId": "u-1", "event": "Application Started"}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert list(Event.objects.values_list("source_id", "name")) == [
        (source.pk, "Application Started")
    ]


# Contacts ------------------------------------------------------------------------


def test_contact_list_finds_a_phone_written_in_any_format():
    contact = make_contact(phone="+14155552671")
    make_contact()

    response = token_client().get("/api/v1/contacts/", {"phone": "(415) 555-2671"})

    assert ids(response) == [contact.pk]


def test_contact_list_refuses_a_phone_filter_that_is_not_a_number():
    response = token_client().get("/api/v1/contacts/", {"phone": "12345"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "phone: phone '12345' is a short code, not a person's number",
    }


def test_contact_list_finds_an_email_whatever_its_case():
    contact = make_contact(email="ada@example.com")
    make_contact(email="grace@example.com")

    response = token_client().get("/api/v1/contacts/", {"email": "Ada@Example.com"})

    assert ids(response) == [contact.pk]


def test_contact_list_finds_the_contact_of_a_user_id():
    contact = make_contact()
    make_profile(contact, user_id="user-42")
    make_profile(make_contact(), user_id="user-43")

    response = token_client().get("/api/v1/contacts/", {"user_id": "user-42"})

    assert ids(response) == [contact.pk]


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("gold", "plan:gold"),
        (42, "plan:42"),
        ("42", "plan:42"),
        (True, "plan:true"),
        ("a:b", "plan:a:b"),
    ],
    ids=["text", "number", "number-as-text", "boolean", "value-with-colon"],
)
def test_contact_list_finds_a_property_value(stored, query):
    contact = make_contact(properties={"plan": stored})
    make_contact(properties={"plan": "silver"})
    make_contact(properties={})

    response = token_client().get("/api/v1/contacts/", {"property": query})

    assert ids(response) == [contact.pk]


def test_contact_list_property_filters_must_all_match():
    contact = make_contact(properties={"plan": "gold", "city": "Oslo"})
    make_contact(properties={"plan": "gold", "city": "Bergen"})

    response = token_client().get(
        "/api/v1/contacts/", {"property": ["plan:gold", "city:Oslo"]}
    )

    assert ids(response) == [contact.pk]


def test_contact_list_takes_a_property_key_whole():
    contact = make_contact(properties={"a__b": "x", "contains": "y"})
    make_contact(properties={"a": {"b": "x"}})

    response = token_client().get(
        "/api/v1/contacts/", {"property": ["a__b:x", "contains:y"]}
    )

    assert ids(response) == [contact.pk]


@pytest.mark.parametrize("query", ["plan", ":gold"], ids=["no-colon", "empty-key"])
def test_contact_list_refuses_a_property_filter_without_key(query):
    response = token_client().get("/api/v1/contacts/", {"property": query})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": f"property: {query!r} is not key:value with a non-empty key",
    }


def test_contact_list_pages_by_cursor_newest_first():
    oldest, middle, newest = make_contact(), make_contact(), make_contact()
    client = token_client()

    first = client.get("/api/v1/contacts/", {"page_size": 2})
    second = client.get(first.json()["next"])

    assert ids(first) == [newest.pk, middle.pk]
    assert ids(second) == [oldest.pk]
    assert second.json()["next"] is None


def test_contact_list_takes_two_queries_however_many_contacts(
    django_assert_num_queries,
):
    for _ in range(3):
        make_contact(sms_consent=True)
    client = token_client()

    # The token and its user, then the page.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/contacts/")

    assert len(response.json()["results"]) == 3


def test_contact_detail_shows_typed_fields_properties_and_consent_history():
    contact = make_contact(
        phone="+14155552671",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        timezone="America/Los_Angeles",
        address={"city": "London"},
        phones=[{"value": "+14155552672", "label": "work", "is_primary": False}],
        emails=[{"value": "ada@work.example", "label": "work", "is_primary": False}],
        properties={"plan": "gold"},
    )
    contact_services.set_consent(
        contact,
        channel=Channel.SMS,
        subscribed=True,
        source="web form",
        occurred_at=T0,
        ip="203.0.113.7",
        text="Text me offers",
    )
    contact_services.set_consent(
        contact,
        channel=Channel.SMS,
        subscribed=False,
        source="sms STOP",
        occurred_at=T0 + timedelta(days=1),
    )
    contact.refresh_from_db()

    response = token_client().get(f"/api/v1/contacts/{contact.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": contact.pk,
        "phone": "+14155552671",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "timezone": "America/Los_Angeles",
        "address": {"city": "London"},
        "phones": [{"value": "+14155552672", "label": "work", "is_primary": False}],
        "emails": [{"value": "ada@work.example", "label": "work", "is_primary": False}],
        "properties": {"plan": "gold"},
        "created_at": contact.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": contact.updated_at.isoformat().replace("+00:00", "Z"),
        "consent": [
            {
                "channel": "sms",
                "address": "+14155552671",
                "subscribed": False,
                "updated_at": "2026-03-02T12:00:00Z",
                "history": [
                    {
                        "channel": "sms",
                        "address": "+14155552671",
                        "subscribed": False,
                        "source": "sms STOP",
                        "occurred_at": "2026-03-02T12:00:00Z",
                        "ip": None,
                        "text": "",
                    },
                    {
                        "channel": "sms",
                        "address": "+14155552671",
                        "subscribed": True,
                        "source": "web form",
                        "occurred_at": "2026-03-01T12:00:00Z",
                        "ip": "203.0.113.7",
                        "text": "Text me offers",
                    },
                ],
            }
        ],
    }


def test_contact_detail_keeps_each_channels_history_apart():
    contact = make_contact(email="ada@example.com")
    for channel in (Channel.SMS, Channel.EMAIL):
        contact_services.set_consent(
            contact, channel=channel, subscribed=True, source=f"{channel} form"
        )

    response = token_client().get(f"/api/v1/contacts/{contact.pk}/")

    assert [
        (consent["channel"], [change["source"] for change in consent["history"]])
        for consent in response.json()["consent"]
    ] == [("email", ["email form"]), ("sms", ["sms form"])]


def test_contact_detail_takes_four_queries_however_much_consent(
    django_assert_num_queries,
):
    contact = make_contact(email="ada@example.com")
    for channel in (Channel.SMS, Channel.EMAIL, Channel.VOICE):
        for subscribed in (True, False):
            contact_services.set_consent(
                contact, channel=channel, subscribed=subscribed, source="test"
            )
    client = token_client()

    # The token, the contact, its consents, their history.
    with django_assert_num_queries(4):
        response = client.get(f"/api/v1/contacts/{contact.pk}/")

    assert len(response.json()["consent"]) == 3


@pytest.mark.parametrize(
    "contact_id", ["999999", "99999999999999999999999"], ids=["unknown", "huge"]
)
def test_contact_detail_of_an_unknown_id_answers_404(contact_id):
    response = token_client().get(f"/api/v1/contacts/{contact_id}/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no contact has this id",
    }


# A contact's timeline ------------------------------------------------------------


def test_contact_timeline_lists_its_events_newest_first_ties_by_id():
    contact = make_contact()
    older = make_event(contact, timestamp=T0)
    tie_first = make_event(contact, timestamp=T0 + timedelta(hours=1))
    tie_second = make_event(contact, timestamp=T0 + timedelta(hours=1))
    make_event(make_contact(), timestamp=T0)
    make_event(None, timestamp=T0)

    response = token_client().get(f"/api/v1/contacts/{contact.pk}/events/")

    assert ids(response) == [tie_second.pk, tie_first.pk, older.pk]


def test_contact_timeline_second_page_follows_next():
    contact = make_contact()
    events = [
        make_event(contact, timestamp=T0 + timedelta(minutes=minutes))
        for minutes in range(5)
    ]
    client = token_client()

    first = client.get(f"/api/v1/contacts/{contact.pk}/events/", {"page_size": 3})
    second = client.get(first.json()["next"])

    assert ids(first) == [events[4].pk, events[3].pk, events[2].pk]
    assert ids(second) == [events[1].pk, events[0].pk]
    assert second.json()["next"] is None


def test_contact_timeline_pages_across_equal_timestamps():
    contact = make_contact()
    events = [make_event(contact, timestamp=T0) for _ in range(3)]
    client = token_client()

    first = client.get(f"/api/v1/contacts/{contact.pk}/events/", {"page_size": 2})
    second = client.get(first.json()["next"])

    assert ids(first) + ids(second) == [event.pk for event in reversed(events)]


def test_contact_timeline_shows_an_events_fields():
    contact = make_contact()
    source = make_source(name="web")
    event = make_event(
        contact,
        source=source,
        message_id="m-1",
        user_id="user-42",
        properties={"product": "loan"},
        context={"ip": "203.0.113.7"},
        timestamp=T0,
        received_at=T0 + timedelta(seconds=2),
    )

    response = token_client().get(f"/api/v1/contacts/{contact.pk}/events/")

    assert response.json()["results"] == [
        {
            "id": event.pk,
            "type": "track",
            "name": "Application Started",
            "message_id": "m-1",
            "source": "web",
            "contact": contact.pk,
            "user_id": "user-42",
            "anonymous_id": "",
            "properties": {"product": "loan"},
            "traits": {},
            "context": {"ip": "203.0.113.7"},
            "timestamp": "2026-03-01T12:00:00Z",
            "original_timestamp": None,
            "sent_at": None,
            "received_at": "2026-03-01T12:00:02Z",
        }
    ]


def test_contact_timeline_of_an_unknown_contact_answers_404():
    response = token_client().get("/api/v1/contacts/999999/events/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no contact has this id",
    }


def test_contact_timeline_takes_three_queries_however_many_events(
    django_assert_num_queries,
):
    contact = make_contact()
    for _ in range(3):
        make_event(contact, source=make_source())
    client = token_client()

    # The token, the contact's existence, the page with each event's source.
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/contacts/{contact.pk}/events/")

    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        base64.b64encode(b"p=not-a-time").decode(),
        base64.b64encode(b"p=99999-01-01").decode(),
    ],
    ids=["position-not-a-time", "position-out-of-range"],
)
def test_contact_timeline_refuses_a_forged_cursor_with_404(cursor):
    contact = make_contact()
    make_event(contact)

    response = token_client().get(
        f"/api/v1/contacts/{contact.pk}/events/", {"cursor": cursor}
    )

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Invalid cursor"}


# Events --------------------------------------------------------------------------


def test_event_list_filters_by_name():
    wanted = make_event(name="Application Started")
    make_event(name="Application Completed")

    response = token_client().get("/api/v1/events/", {"name": "Application Started"})

    assert ids(response) == [wanted.pk]


def test_event_list_keeps_since_inclusive_and_until_exclusive():
    make_event(timestamp=T0 - timedelta(seconds=1))
    at_since = make_event(timestamp=T0)
    inside = make_event(timestamp=T0 + timedelta(minutes=30))
    make_event(timestamp=T0 + timedelta(hours=1))

    response = token_client().get(
        "/api/v1/events/",
        {"since": "2026-03-01T12:00:00Z", "until": "2026-03-01T13:00:00Z"},
    )

    assert ids(response) == [inside.pk, at_since.pk]


def test_event_list_reads_a_time_with_an_offset():
    make_event(timestamp=T0 - timedelta(minutes=1))
    after = make_event(timestamp=T0)

    response = token_client().get(
        "/api/v1/events/", {"since": "2026-03-01T14:00:00+02:00"}
    )

    assert ids(response) == [after.pk]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"since": "yesterday"},
            "since: Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
        (
            {"until": "2026-13-01T00:00:00Z"},
            "until: Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
        (
            {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            "non_field_errors: since must not be after until",
        ),
    ],
    ids=["since-not-a-time", "until-impossible-month", "since-after-until"],
)
def test_event_list_refuses_bad_times_with_400(params, message):
    response = token_client().get("/api/v1/events/", params)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": message}


def test_event_list_second_page_follows_next():
    events = [make_event(timestamp=T0 + timedelta(minutes=m)) for m in range(3)]
    client = token_client()

    first = client.get("/api/v1/events/", {"page_size": 2})
    second = client.get(first.json()["next"])

    assert ids(first) == [events[2].pk, events[1].pk]
    assert ids(second) == [events[0].pk]


def test_event_list_takes_two_queries_however_many_events(
    django_assert_num_queries,
):
    for _ in range(3):
        make_event(make_contact())
    client = token_client()

    # The token and its user, then the page with each event's source.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/events/")

    assert len(response.json()["results"]) == 3
