"""Read one event of Segment's HTTP tracking API into the fields Regal stores.

Everything here is pure: no database, no clock other than what is passed in.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from contacts.services import clean_identifier
from events.choices import EventType
from events.errors import InvalidEventError

MAX_EVENT_BYTES = 32 * 1024
EVENT_TYPES = frozenset(EventType.values)
# How json.dumps writes a NUL: \u0000 after an even run of backslashes. After
# an odd run it is the text of a backslash followed by "u0000".
ENCODED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# A clock this far ahead is wrong, not early: the event gets its received time.
MAX_FUTURE_SKEW = timedelta(days=1)


@dataclass
class ParsedEvent:
    type: str
    message_id: str
    name: str
    user_id: str | None
    anonymous_id: str | None
    properties: dict
    traits: dict
    context: dict
    # Traits that describe the person: an identify's (or, as RudderStack sends
    # them, its context's), or those of a Regal-shaped event.
    identify_traits: dict
    previous_id: str | None
    group_id: str | None
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None


def parse_event(
    payload: object,
    *,
    received_at: datetime,
    default_type: str | None = None,
    batch_sent_at: object = None,
    batch_context: dict | None = None,
    traits_identify: bool = False,
) -> ParsedEvent:
    """Validate one event payload and return what to store, or raise an error."""
    if not isinstance(payload, dict):
        raise InvalidEventError("an event must be a JSON object", code="invalid_event")
    encoded = json.dumps(payload, default=str)
    if len(encoded) > MAX_EVENT_BYTES:
        raise InvalidEventError(
            f"event is larger than {MAX_EVENT_BYTES // 1024} KB", code="event_too_large"
        )
    if encodes_nul(encoded) or holds_nul(batch_context):
        # PostgreSQL can store a NUL neither in text nor in jsonb.
        raise InvalidEventError(
            "the event holds a NUL character (\\u0000)", code="invalid_character"
        )

    event_type = payload.get("type") or default_type
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise InvalidEventError(
            f"type must be one of {', '.join(EventType.values)}, not {event_type!r}",
            code="invalid_type",
        )
    user_id = clean_identifier(payload.get("userId"))
    anonymous_id = clean_identifier(payload.get("anonymousId"))
    previous_id = clean_identifier(payload.get("previousId"))
    group_id = clean_identifier(payload.get("groupId"))
    if event_type == EventType.ALIAS and not (user_id and previous_id):
        raise InvalidEventError(
            "an alias call needs a userId and a previousId", code="missing_identity"
        )
    if event_type == EventType.GROUP and not group_id:
        raise InvalidEventError("a group call needs a groupId", code="missing_group_id")
    if not user_id and not anonymous_id:
        raise InvalidEventError(
            "userId or anonymousId is required (generic values such as 'null' "
            "or 'anonymous' do not count)",
            code="missing_identity",
        )

    original_timestamp = parse_time(payload, "originalTimestamp")
    timestamp = parse_time(payload, "timestamp")
    sent_at = parse_time(payload, "sentAt") or parse_time(
        {"sentAt": batch_sent_at}, "sentAt"
    )
    traits = parse_object(payload, "traits")
    context = {**(batch_context or {}), **parse_object(payload, "context")}
    return ParsedEvent(
        type=event_type,
        message_id=parse_message_id(payload.get("messageId")),
        name=parse_name(payload, event_type),
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=parse_object(payload, "properties"),
        traits=traits,
        context=context,
        identify_traits=person_traits(event_type, traits, context, traits_identify),
        previous_id=previous_id,
        group_id=group_id,
        timestamp=event_time(
            received_at=received_at,
            timestamp=timestamp,
            original_timestamp=original_timestamp,
            sent_at=sent_at,
        ),
        original_timestamp=original_timestamp,
        sent_at=sent_at,
    )


def person_traits(
    event_type: str, traits: dict, context: dict, traits_identify: bool
) -> dict:
    """The traits to apply to the person, or {} when this call applies none."""
    if traits_identify:
        return traits
    if event_type != EventType.IDENTIFY:
        return {}
    context_traits = context.get("traits")
    return traits or (context_traits if isinstance(context_traits, dict) else {})


def encodes_nul(encoded: str) -> bool:
    """Whether a NUL character is anywhere in a value that json.dumps encoded.

    Searching the encoding the size check made anyway costs a fraction of
    walking the event (see holds_nul).
    """
    return "\\u0000" in encoded and ENCODED_NUL.search(encoded) is not None


def holds_nul(value: object) -> bool:
    """Whether a NUL character is anywhere in a JSON value, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


def parse_name(payload: dict, event_type: str) -> str:
    if event_type == EventType.TRACK:
        name = payload.get("event")
        if not isinstance(name, str) or not name.strip():
            raise InvalidEventError(
                "a track call needs an event name", code="missing_event"
            )
        return name.strip()[:255]
    name = payload.get("name")
    return name.strip()[:255] if isinstance(name, str) else ""


def parse_message_id(value: object) -> str:
    if value is None or value == "":
        return f"regal-{uuid.uuid4()}"
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidEventError("messageId must be a string", code="invalid_message_id")
    text = str(value)
    if len(text) > 255:
        raise InvalidEventError("messageId is longer than 255 characters")
    return text


def parse_object(payload: dict, key: str) -> dict:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEventError(f"{key} must be a JSON object", code=f"invalid_{key}")
    return value


def parse_time(payload: dict, key: str) -> datetime | None:
    """Read an ISO-8601 time; one without a zone is taken as UTC."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        # Well formed but no such moment, like 2024-02-30: as wrong as words.
        parsed = None
    if parsed is None:
        raise InvalidEventError(
            f"{key} must be an ISO-8601 date and time, not {value!r}",
            code="invalid_timestamp",
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # In UTC, because PostgreSQL takes offsets up to 15:59 only, while
        # ISO-8601 allows 23:59; and a time at the calendar's edge with an
        # offset, such as 0001-01-01T00:00+01:00, has no UTC moment at all.
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidEventError(
            f"{key} {value!r} is outside the years 1 to 9999 in UTC",
            code="invalid_timestamp",
        ) from exc


def event_time(
    *,
    received_at: datetime,
    timestamp: datetime | None,
    original_timestamp: datetime | None,
    sent_at: datetime | None,
) -> datetime:
    """When the event happened, on the server's clock.

    As Segment does: with originalTimestamp and sentAt, the client's clock skew
    is taken out (receivedAt - (sentAt - originalTimestamp)); an explicit
    timestamp is trusted as sent; otherwise the event happened when received.
    """
    if original_timestamp and sent_at:
        try:
            when = received_at - (sent_at - original_timestamp)
        except OverflowError:
            # Clocks millennia apart: no correction means anything.
            return received_at
    else:
        when = timestamp or original_timestamp or received_at
    if when > received_at + MAX_FUTURE_SKEW:
        return received_at
    return when
