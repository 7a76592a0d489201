from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event, Source


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
