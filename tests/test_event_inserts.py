"""The fast path's one write: many events in one statement, duplicates skipped.

These run on whichever database the suite runs on: PostgreSQL takes the
unnest INSERT, SQLite the ORM's bulk_create and a read-back.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection

from events.inserts import insert_events
from events.models import Event
from tests.factories import make_contact, make_event, make_profile, make_source

pytestmark = pytest.mark.django_db

RECEIVED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def row(source, profile, **overrides) -> dict:
    """An event's fields by attribute name, as ingestion's fast path makes them."""
    return {
        "source_id": source.pk,
        "message_id": "m-1",
        "type": "track",
        "name": "Application Started",
        "user_id": "u-1",
        "anonymous_id": "",
        "previous_id": "",
        "group_id": "",
        "profile_id": profile.pk,
        "contact_id": profile.contact_id,
        "properties": {"step": 2, "tags": ["a", "b"], "nested": {"ok": True}},
        "traits": {},
        "context": {"ip": "10.0.0.1"},
        "timestamp": datetime(2024, 5, 1, 11, 59, 0, tzinfo=UTC),
        "original_timestamp": None,
        "sent_at": RECEIVED_AT,
        "received_at": RECEIVED_AT,
        **overrides,
    }


def test_insert_events_returns_the_id_of_each_inserted_row():
    source, profile = make_source(), make_profile(make_contact())
    rows = [row(source, profile, message_id=f"m-{n}") for n in (1, 2)]

    ids = insert_events(rows)

    stored = dict(Event.objects.values_list("message_id", "pk"))
    assert ids == stored
    assert sorted(ids) == ["m-1", "m-2"]


def test_insert_events_stores_fields_as_save_would():
    source, profile = make_source(), make_profile(make_contact())
    fields = row(source, profile, anonymous_id="a-1")

    insert_events([fields])

    stored = Event.objects.get()
    assert (stored.source_id, stored.profile_id, stored.contact_id) == (
        source.pk,
        profile.pk,
        profile.contact_id,
    )
    assert (stored.type, stored.name, stored.user_id, stored.anonymous_id) == (
        "track",
        "Application Started",
        "u-1",
        "a-1",
    )
    assert stored.properties == {"step": 2, "tags": ["a", "b"], "nested": {"ok": True}}
    assert (stored.traits, stored.context) == ({}, {"ip": "10.0.0.1"})
    assert stored.timestamp == datetime(2024, 5, 1, 11, 59, 0, tzinfo=UTC)
    assert (stored.original_timestamp, stored.sent_at) == (None, RECEIVED_AT)
    assert stored.received_at == RECEIVED_AT
    assert stored.created_at is not None


def test_insert_events_stores_an_event_of_a_profile_without_contact():
    source, profile = make_source(), make_profile()

    insert_events([row(source, profile)])

    assert Event.objects.get().contact_id is None


def test_insert_events_skips_a_message_id_the_source_already_stored():
    source, profile = make_source(), make_profile()
    earlier = make_event(source=source, profile=profile, message_id="m-1", name="Old")

    ids = insert_events(
        [
            row(source, profile, message_id="m-1", name="New"),
            row(source, profile, message_id="m-2"),
        ]
    )

    assert list(ids) == ["m-2"]
    assert Event.objects.get(message_id="m-1").pk == earlier.pk
    assert Event.objects.get(message_id="m-1").name == "Old"


def test_insert_events_takes_one_query_on_postgresql(django_assert_num_queries):
    source, profile = make_source(), make_profile()
    rows = [row(source, profile, message_id=f"m-{n}") for n in range(50)]
    # Elsewhere the ORM's bulk_create cannot return ids: a read-back follows.
    expected = 1 if connection.vendor == "postgresql" else 2

    with django_assert_num_queries(expected):
        insert_events(rows)

    assert Event.objects.count() == 50


def test_insert_events_inserts_nothing_for_no_events(django_assert_num_queries):
    with django_assert_num_queries(0):
        ids = insert_events([])

    assert ids == {}
