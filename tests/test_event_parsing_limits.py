"""Event times at the edge of the calendar: refused or corrected, never a 500.

Found by schemathesis (tests/test_openapi.py) posting to /v1/page.
"""

from datetime import UTC, datetime

import pytest

from events.errors import InvalidEventError
from events.parsing import parse_event

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
