"""Event times and characters PostgreSQL cannot store: refused or corrected.

Each was found by schemathesis (tests/test_openapi.py) as a 500 from /v1/.
"""

import json
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from events.errors import InvalidEventError
from events.models import Event
from events.parsing import parse_event
from tests.factories import make_source

RECEIVED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_event_time_is_the_received_time_when_the_clocks_are_millennia_apart():
    parsed = parse_event(
        {
            "type": "page",
            "userId": "u-1",
            "originalTimestamp": "0001-01-01T00:00:00Z",
            "sentAt": "9999-12-31T00:00:00Z",
        },
        received_at=RECEIVED_AT,
    )

    assert parsed.timestamp == RECEIVED_AT


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["before-year-1", "after-year-9999"],
)
def test_event_time_outside_the_calendar_in_utc_is_refused(value):
    with pytest.raises(InvalidEventError) as caught:
        parse_event(
            {"type": "page", "userId": "u-1", "timestamp": value},
            received_at=RECEIVED_AT,
        )

    assert caught.value.code == "invalid_timestamp"
    assert caught.value.message == (
        f"timestamp {value!r} is outside the years 1 to 9999 in UTC"
    )


def test_event_time_with_an_offset_beyond_postgresqls_is_kept_in_utc():
    parsed = parse_event(
        {"type": "page", "userId": "u-1", "timestamp": "2026-03-01T00:00:00-20:00"},
        received_at=RECEIVED_AT,
    )

    assert parsed.timestamp == datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    assert parsed.timestamp.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("payload", "batch_context"),
    [
        ({"userId": "u-\x00"}, None),
        ({"userId": "u-1", "properties": {"a": ["\x00"]}}, None),
        ({"userId": "u-1", "properties": {"\x00": 1}}, None),
        ({"userId": "u-1"}, {"app": "\x00"}),
    ],
    ids=["identifier", "nested-value", "key", "batch-context"],
)
def test_event_with_a_nul_character_is_refused(payload, batch_context):
    with pytest.raises(InvalidEventError) as caught:
        parse_event(
            {"type": "track", "event": "Started", **payload},
            received_at=RECEIVED_AT,
            batch_context=batch_context,
        )

    assert caught.value.code == "invalid_character"


@pytest.mark.django_db
def test_ingestion_answers_400_to_a_nul_and_logs_it_without_the_nul():
    source = make_source()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {source.write_key}")

    response = client.post(
        "/v1/track",
        data=json.dumps({"userId": "u-1", "event": "Started", "messageId": "m-\x00"}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 0,
            "messageId": "m-\x00",
            "code": "invalid_character",
            "message": "the event holds a NUL character (\\u0000)",
        }
    ]
    assert list(source.log.values_list("code", "message_id")) == [
        ("invalid_character", "m-")
    ]
    assert Event.objects.count() == 0
