"""The registry of event names and property keys seen, for the campaign builder.

Each name and key is recorded once, with the type it was first seen with. A
process remembers what it has recorded, so a steady stream of familiar events
costs no query.
"""

import logging

from django.utils.dateparse import parse_datetime

from events.choices import PropertyScope, PropertyType
from events.models import EventName, PropertyKey

logger = logging.getLogger(__name__)

# Bounds the memory of what this process has recorded; past it, it forgets
# and the database's unique constraints take over.
MAX_REMEMBERED = 50_000
remembered: set[tuple] = set()


def value_type(value: object) -> str:
    if value is None:
        return PropertyType.NULL
    if isinstance(value, bool):
        return PropertyType.BOOLEAN
    if isinstance(value, int | float):
        return PropertyType.NUMBER
    if isinstance(value, dict):
        return PropertyType.OBJECT
    if isinstance(value, list):
        return PropertyType.ARRAY
    if isinstance(value, str) and looks_like_datetime(value):
        return PropertyType.DATETIME
    return PropertyType.STRING


def looks_like_datetime(text: str) -> bool:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return False
    try:
        return parse_datetime(text) is not None
    except ValueError:
        return False


def record_seen(parsed_events: list) -> None:
    """Record the names and property keys of stored events not recorded before."""
    names: dict[str, EventName] = {}
    keys: dict[tuple, PropertyKey] = {}
    for parsed in parsed_events:
        if parsed.name and ("name", parsed.name) not in remembered:
            names.setdefault(parsed.name, EventName(name=parsed.name, type=parsed.type))
        for scope, event_name, values in (
            (PropertyScope.EVENT, parsed.name, parsed.properties),
            (PropertyScope.CONTACT, "", parsed.identify_traits),
        ):
            for key, value in values.items():
                marker = (scope, event_name, key[:255])
                if marker not in remembered:
                    keys.setdefault(
                        marker,
                        PropertyKey(
                            scope=scope,
                            event_name=event_name,
                            key=key[:255],
                            type=value_type(value),
                        ),
                    )
    if not names and not keys:
        return
    EventName.objects.bulk_create(names.values(), ignore_conflicts=True)
    PropertyKey.objects.bulk_create(keys.values(), ignore_conflicts=True)
    if len(remembered) > MAX_REMEMBERED:
        remembered.clear()
    remembered.update(("name", name) for name in names)
    remembered.update(keys)
    logger.debug("registry: %d names, %d keys offered", len(names), len(keys))
