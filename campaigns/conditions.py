"""The condition language of the campaign builder.

A condition reads one property of the trigger event or of the contact, coerces
it to one of four types and compares it with a value an admin typed. Conditions
come in groups: a campaign's conditions hold when every condition of at least
one group holds.

The module is pure: no database, and no clock in the rules: `check`,
`matches` and `parse_moment` take `now`, so a test can pin time and the
engine, the admin's validation and the read-only flow view agree on meaning.

The rules an admin relies on:

- A property is missing when its key is absent, when it is null, when it is a
  blank string (a contact's unknown first name is stored as ""), or when it
  cannot be read as the condition's type (a dict for a number, "soon" for a
  date and time).
- `exists` holds for a present value; `not_exists` and `not_equals` are the
  exact negations of `exists` and `equals`, so they hold for a missing value.
  Every other operator needs a present value and is false without one.
- Text compares case-insensitively ("Yes" is "yes"); the admin's value is
  stripped of surrounding spaces, the stored one is not.
- Numbers compare as decimals, so "10" is greater than "9" and "10.0" is "10".
- Dates without a time, typed or stored, mean the start of that day in UTC;
  "2 days ago" is the same wall-clock time two days before `now`.
- A condition `validate` rejects never holds, whatever its operator, so a
  broken rule cannot enroll everybody.
"""

import operator as op
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.dateparse import parse_date, parse_datetime


class Subject(models.TextChoices):
    EVENT = "event", "Event property"
    CONTACT = "contact", "Contact property"


class Operator(models.TextChoices):
    EQUALS = "equals", "is"
    NOT_EQUALS = "not_equals", "is not"
    ONE_OF = "one_of", "is one of"
    CONTAINS = "contains", "contains"
    STARTS_WITH = "starts_with", "starts with"
    ENDS_WITH = "ends_with", "ends with"
    EXISTS = "exists", "exists"
    NOT_EXISTS = "not_exists", "does not exist"
    GREATER_THAN = "greater_than", "is greater than"
    GREATER_OR_EQUAL = "greater_or_equal", "is at least"
    LESS_THAN = "less_than", "is less than"
    LESS_OR_EQUAL = "less_or_equal", "is at most"
    BEFORE = "before", "is before"
    AFTER = "after", "is after"


class ValueType(models.TextChoices):
    """The types a condition compares as: the comparable part of PropertyType.

    The values are PropertyType's, so `ValueType(property_key.type)` works for
    a registry key of a comparable type and raises ValueError for an object,
    a list or null.
    """

    STRING = "string", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "True/false"
    DATETIME = "datetime", "Date and time"


_PRESENCE = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
_EQUALITY = frozenset({Operator.EQUALS, Operator.NOT_EQUALS, Operator.ONE_OF})

# Date and time has no "is": two instants are rarely equal to the second, and
# "on that day" depends on whose day. An admin writes "is after 2024-05-01 and
# is before 2024-05-02" instead.
OPERATORS_BY_TYPE: dict[ValueType, frozenset[Operator]] = {
    ValueType.STRING: _PRESENCE
    | _EQUALITY
    | {Operator.CONTAINS, Operator.STARTS_WITH, Operator.ENDS_WITH},
    ValueType.NUMBER: _PRESENCE
    | _EQUALITY
    | {
        Operator.GREATER_THAN,
        Operator.GREATER_OR_EQUAL,
        Operator.LESS_THAN,
        Operator.LESS_OR_EQUAL,
    },
    ValueType.BOOLEAN: _PRESENCE | _EQUALITY,
    ValueType.DATETIME: _PRESENCE | {Operator.BEFORE, Operator.AFTER},
}

_CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "timezone", "address")

_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})

_RELATIVE_RE = re.compile(
    r"^(?:(?P<ago_amount>\d+) (?P<ago_unit>[a-z]+?)s? ago"
    r"|in (?P<in_amount>\d+) (?P<in_unit>[a-z]+?)s?)$"
)
_FIXED_UNITS = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_CALENDAR_UNITS = {"month": 1, "year": 12}
_DAY_WORDS = {"yesterday": -1, "today": 0, "tomorrow": 1}
_MOMENT_HELP = (
    "write a date such as 2024-05-01, a date and time such as 2024-05-01T09:30, "
    'or a moment such as "now", "today", "2 days ago" or "in 3 hours"'
)

# Stands for a value that is absent, null, blank or not of the condition's type.
_MISSING = object()


@dataclass(frozen=True)
class Condition:
    """One comparison: `subject`'s property `key` `operator` `value`.

    `key` may be a dotted path into nested objects ("address.city"). `value`
    is the text an admin typed: a comma-separated list for one_of; for before
    and after, anything `parse_moment` reads. Exists and does-not-exist take
    no value.
    """

    subject: str
    key: str
    operator: str
    value: str = ""
    value_type: str = ValueType.STRING


def resolve(subject_data: dict, key: str) -> tuple[bool, Any]:
    """Return (present, value) of `key` in `subject_data`, following dots.

    A key present as it is wins over a path, so a property literally named
    "utm.source" is found; otherwise each dot may step into a nested dict.
    Paths go through dicts only, never into lists.
    """
    if not isinstance(subject_data, dict):
        return False, None
    if key in subject_data:
        return True, subject_data[key]

    for position, char in enumerate(key):
        if char != "." or key[:position] not in subject_data:
            continue
        present, value = resolve(subject_data[key[:position]], key[position + 1 :])
        if present:
            return True, value
    return False, None


def contact_data(contact) -> dict:
    """Return the contact as condition data: its properties and typed fields.

    Every free-form property sits at the top level next to first_name,
    last_name, email, phone, timezone and address; a typed field wins over a
    property of the same name. Takes anything with those attributes.
    """
    data = dict(getattr(contact, "properties", None) or {})
    for field in _CONTACT_FIELDS:
        data[field] = getattr(contact, field, None)
    return data


def parse_moment(text: str, *, now: datetime, tz: tzinfo = UTC) -> datetime:
    """Return the moment `text` names, as an aware datetime.

    Reads ISO dates (the start of that day in `tz`), ISO dates and times (in
    `tz` unless they carry an offset), "now", "today", "yesterday", "tomorrow"
    (the start of that day in `tz`), "<n> <unit>s ago" and "in <n> <unit>s"
    with seconds, minutes, hours, days, weeks, months or years. Relative
    moments count from `now` on the wall clock of `tz`; a naive `now` is UTC.
    Raises ValueError with a message for an admin on anything else.
    """
    try:
        return _moment(text, now=now, tz=tz)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date or moment: {exc}") from exc


def check(
    condition: Condition, *, value_present: bool, value: Any, now: datetime
) -> bool:
    """Return whether a property's value satisfies `condition`.

    `value_present` and `value` are what `resolve` returned. See the module's
    docstring for how missing values, text and numbers compare.
    """
    allowed = OPERATORS_BY_TYPE.get(condition.value_type, frozenset())
    if condition.operator not in allowed or not _valid_key(condition.key):
        return False
    actual = _coerce(value, condition.value_type) if value_present else _MISSING

    if condition.operator in _PRESENCE:
        return (actual is not _MISSING) == (condition.operator == Operator.EXISTS)
    try:
        expected = _read_value(condition, now=now)
    except ValueError:
        return False

    if condition.operator == Operator.NOT_EQUALS:
        return actual is _MISSING or actual != expected
    return actual is not _MISSING and _COMPARISONS[condition.operator](actual, expected)


def matches(
    groups: list[list[Condition]], *, event_data: dict, contact: dict, now: datetime
) -> bool:
    """Return whether every condition of at least one group holds.

    `contact` is `contact_data`'s dict. No groups means no conditions, which
    hold; an empty group is ignored rather than read as "always".
    """
    data_by_subject = {Subject.EVENT: event_data, Subject.CONTACT: contact}
    groups = [group for group in groups if group]
    if not groups:
        return True

    def holds(condition: Condition) -> bool:
        if condition.subject not in data_by_subject:
            return False
        present, value = resolve(data_by_subject[condition.subject], condition.key)
        return check(condition, value_present=present, value=value, now=now)

    return any(all(holds(condition) for condition in group) for group in groups)


def validate(condition: Condition) -> list[str]:
    """Return what an admin must fix before `condition` can go live, if anything.

    Relative moments are read against the present, only to know they can be.
    """
    problems = []
    if condition.subject not in Subject.values:
        problems.append(
            f"'{condition.subject}' is not something a condition can read; "
            "choose an event property or a contact property."
        )
    problems.extend(_key_problems(condition.key))
    if condition.value_type not in ValueType.values:
        types = ", ".join(each.label.lower() for each in ValueType)
        return [
            *problems,
            f"'{condition.value_type}' is not a type to compare as; "
            f"choose one of {types}.",
        ]
    if condition.operator not in Operator.values:
        return [*problems, f"'{condition.operator}' is not an operator."]

    allowed = operators_for(condition.value_type)
    if condition.operator not in allowed:
        type_label = ValueType(condition.value_type).label.lower()
        choices = ", ".join(f"'{each.label}'" for each in allowed)
        return [
            *problems,
            f"'{Operator(condition.operator).label}' does not apply to "
            f"{condition.key}, compared as {type_label}; choose one of {choices}.",
        ]

    if condition.operator not in _PRESENCE:
        try:
            _read_value(condition, now=datetime.now(UTC))
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def describe(condition: Condition) -> str:
    """Return `condition` as a sentence, e.g. "event property plan is "gold"".

    Never raises: parts it cannot read are shown as they were typed.
    """
    try:
        subject = Subject(condition.subject).label.lower()
    except ValueError:
        subject = f"{condition.subject} property"
    try:
        verb = Operator(condition.operator).label
    except ValueError:
        verb = condition.operator

    sentence = f"{subject} {condition.key} {verb}"
    if condition.operator in _PRESENCE:
        return sentence
    return f"{sentence} {_describe_value(condition)}"


def to_number(value: Any) -> Decimal | None:
    """A number read the way conditions read one (numeric text too), or None."""
    return _to_number(value)


def to_datetime(value: Any) -> datetime | None:
    """A moment read the way conditions read one (ISO text too), or None."""
    return _to_datetime(value)


def operators_for(value_type: str) -> list[Operator]:
    """Return the operators a type allows, in declaration order, for a dropdown."""
    allowed = OPERATORS_BY_TYPE.get(value_type, frozenset())
    return [each for each in Operator if each in allowed]


def _coerce(value: Any, value_type: str) -> Any:
    """Return `value` read as `value_type`, or _MISSING if it cannot be.

    Text is casefolded for comparison; a number as text is written plainly
    (10.0 as "10") and a boolean as "true" or "false". Numbers are Decimals,
    from ints, floats or numeric strings, never from booleans. Booleans come
    from bools, the ints 0 and 1, or true/false/yes/no/1/0 in any case.
    Datetimes come from datetimes, dates or ISO strings; naive means UTC.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return _MISSING
    reader = {
        ValueType.STRING: _to_string,
        ValueType.NUMBER: _to_number,
        ValueType.BOOLEAN: _to_boolean,
        ValueType.DATETIME: _to_datetime,
    }.get(value_type)
    result = reader(value) if reader else None
    return _MISSING if result is None else result


def _to_string(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = _to_number(value)
        return None if number is None else _plain(number)
    return value.casefold() if isinstance(value, str) else None


def _to_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr, not the float: Decimal(0.1) is 0.1000000000000000055...
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None

    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _to_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    return False if word in _FALSE_WORDS else None


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value, UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    return None if parsed is None else _aware(parsed, UTC)


def _read_value(condition: Condition, *, now: datetime) -> Any:
    """Return the admin's value read as the condition's type; a list for one_of.

    Raises ValueError with the message `validate` shows.
    """
    key = condition.key.strip() or "this property"
    text = (condition.value or "").strip()
    if condition.operator == Operator.ONE_OF:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise ValueError(f"Give at least one value for {key}, separated by commas.")
        return [_read_one(item, condition, now=now) for item in items]
    if not text:
        raise ValueError(f"Give a value to compare {key} with.")
    return _read_one(text, condition, now=now)


def _read_one(text: str, condition: Condition, *, now: datetime) -> Any:
    key = condition.key.strip() or "this property"
    if condition.value_type == ValueType.NUMBER:
        number = _to_number(text)
        if number is None:
            raise ValueError(f"'{text}' is not a number for {key}.")
        return number
    if condition.value_type == ValueType.BOOLEAN:
        flag = _to_boolean(text)
        if flag is None:
            raise ValueError(
                f"'{text}' is not true or false for {key}; "
                "write true or false, yes or no, or 1 or 0."
            )
        return flag
    if condition.value_type == ValueType.DATETIME:
        try:
            return _moment(text, now=now, tz=UTC)
        except ValueError as exc:
            raise ValueError(
                f"'{text}' is not a date or moment for {key}: {exc}."
            ) from exc
    return text.casefold()


def _key_problems(key: str) -> list[str]:
    if not key or not key.strip():
        return ["Choose a property key."]
    if key != key.strip():
        return [f"'{key}' begins or ends with a space; keys are matched exactly."]
    if "" in key.split("."):
        return [
            f"'{key}' is not a property path: "
            "every part between dots needs a name, as in address.city."
        ]
    return []


def _valid_key(key: str) -> bool:
    return not _key_problems(key)


def _describe_value(condition: Condition) -> str:
    items = (
        [item.strip() for item in condition.value.split(",") if item.strip()]
        if condition.operator == Operator.ONE_OF
        else [condition.value.strip()]
    )
    if condition.value_type == ValueType.STRING:
        shown = [f'"{item}"' for item in items]
    elif condition.value_type == ValueType.BOOLEAN:
        flags = [_to_boolean(item) for item in items]
        shown = [
            item if flag is None else str(flag).lower()
            for item, flag in zip(items, flags, strict=True)
        ]
    else:
        shown = items
    return ", ".join(shown)


def _moment(text: str, *, now: datetime, tz: tzinfo) -> datetime:
    """parse_moment without the text in its errors, which say only why."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise ValueError(f"it is empty; {_MOMENT_HELP}")

    try:
        absolute = _parse_absolute(cleaned, tz)
        if absolute is not None:
            return absolute
        local_now = _aware(now, UTC).astimezone(tz)
        relative = _parse_relative(cleaned.lower(), local_now)
    except OverflowError as exc:
        raise ValueError("it is too far from today") from exc

    if relative is None:
        raise ValueError(_MOMENT_HELP)
    return relative


def _parse_absolute(text: str, tz: tzinfo) -> datetime | None:
    day = parse_date(text)
    if day is not None:
        return datetime.combine(day, time(), tzinfo=tz)
    moment = parse_datetime(text)
    return None if moment is None else _aware(moment, tz)


def _parse_relative(text: str, local_now: datetime) -> datetime | None:
    if text == "now":
        return local_now
    if text in _DAY_WORDS:
        day = local_now.date() + timedelta(days=_DAY_WORDS[text])
        return datetime.combine(day, time(), tzinfo=local_now.tzinfo)
    found = _RELATIVE_RE.match(text)
    if found is None:
        return None

    sign = -1 if found["ago_amount"] else 1
    amount = sign * int(found["ago_amount"] or found["in_amount"])
    unit = found["ago_unit"] or found["in_unit"]
    if unit in _FIXED_UNITS:
        return local_now + amount * _FIXED_UNITS[unit]
    if unit in _CALENDAR_UNITS:
        return _add_months(local_now, amount * _CALENDAR_UNITS[unit])
    raise ValueError(
        f"'{unit}' is not a unit; use seconds, minutes, hours, days, weeks, "
        "months or years"
    )


def _add_months(moment: datetime, months: int) -> datetime:
    """Move `moment` by calendar months, keeping the day where the month has it.

    January 31st plus one month is the last day of February.
    """
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("year out of range")
    day = min(moment.day, monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_COMPARISONS = {
    Operator.EQUALS: op.eq,
    Operator.ONE_OF: lambda actual, expected: actual in expected,
    Operator.CONTAINS: lambda actual, expected: expected in actual,
    Operator.STARTS_WITH: str.startswith,
    Operator.ENDS_WITH: str.endswith,
    Operator.GREATER_THAN: op.gt,
    Operator.GREATER_OR_EQUAL: op.ge,
    Operator.LESS_THAN: op.lt,
    Operator.LESS_OR_EQUAL: op.le,
    Operator.BEFORE: op.lt,
    Operator.AFTER: op.gt,
}
