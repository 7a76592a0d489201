from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event, EventName, PropertyKey, Source


def get_enabled_source_by_write_key(write_key: str) -> Source | None:
    """The enabled source whose key, or whose rotated-out key in its grace, this is."""
    current = Q(write_key=write_key)
    previous = Q(
        previous_write_key=write_key, previous_key_expires_at__gt=timezone.now()
    )
    return Source.objects.filter(current | previous, is_enabled=True).first()


def list_events(
    *,
    name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    """Return events newest first: named `name`, at or after `since`, before `until`."""
    events = Event.objects.select_related("source").order_by("-timestamp", "-id")
    if name is not None:
        events = events.filter(name=name)
    if since is not None:
        events = events.filter(timestamp__gte=since)
    if until is not None:
        events = events.filter(timestamp__lt=until)
    return events


def list_events_for_contact(contact_id: int) -> QuerySet[Event]:
    """Return a contact's timeline, newest first."""
    return (
        Event.objects.filter(contact_id=contact_id)
        .select_related("source")
        .order_by("-timestamp", "-id")
    )


def list_event_names(*, limit: int = 1000) -> list[str]:
    """Return the event names seen, alphabetically, for the builder's pick lists."""
    names = EventName.objects.order_by("name").values_list("name", flat=True)
    return list(names[:limit])


def list_property_keys(
    *, scope: str, event_names: Iterable[str] | None = None, limit: int = 1000
) -> list[PropertyKey]:
    """Return the property keys seen in a scope, with their first-seen type.

    For the event scope, only the keys of `event_names` when given; contact
    traits are stored under the empty event name.
    """
    keys = PropertyKey.objects.filter(scope=scope).order_by("event_name", "key")
    if event_names is not None:
        keys = keys.filter(event_name__in=list(event_names))
    return list(keys[:limit])


def get_property_type(*, scope: str, event_name: str, key: str) -> str | None:
    """Return the type a property key was first seen with, or None if never seen."""
    return (
        PropertyKey.objects.filter(scope=scope, event_name=event_name, key=key)
        .values_list("type", flat=True)
        .first()
    )


def get_latest_event_for_contact(contact_id: int, name: str) -> Event | None:
    """Return the contact's most recent event of this name, if any."""
    return (
        Event.objects.filter(contact_id=contact_id, name=name)
        .order_by("-timestamp", "-id")
        .first()
    )


def list_events_for_replay(
    *, names: Iterable[str], since: datetime, until: datetime, contact_ids=None
) -> QuerySet[Event]:
    """Return contacts' events of these names in [since, until), oldest first.

    Events without a contact are left out: nothing can be done for them.
    """
    events = (
        Event.objects.filter(
            name__in=list(names),
            contact__isnull=False,
            timestamp__gte=since,
            timestamp__lt=until,
        )
        .select_related("contact")
        .order_by("timestamp", "id")
    )
    if contact_ids is not None:
        events = events.filter(contact_id__in=list(contact_ids))
    return events
