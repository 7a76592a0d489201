"""Ingestion: store events, resolve who they are about, hand them on."""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from contacts import services as contact_services
from contacts.models import Contact
from events.choices import EventType
from events.errors import InvalidEventError
from events.models import Event, Source
from events.parsing import ParsedEvent, parse_event

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 2500
# The built-in, disabled source under which Regal records what it observes.
SYSTEM_SOURCE_NAME = "regal"


@dataclass
class EventProblem:
    index: int
    message_id: str | None
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class IngestResult:
    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    errors: list[EventProblem] = field(default_factory=list)
    warnings: list[EventProblem] = field(default_factory=list)


def ingest_events(
    source: Source,
    payloads: list,
    *,
    default_type: str | None = None,
    batch_sent_at: object = None,
    batch_context: dict | None = None,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store a batch of Segment-shaped events for a source.

    Each event stands alone: a bad one is reported by its index and the others
    are kept. A messageId the source has sent before stores nothing. Once the
    stored events have committed, the consumers named by REGAL_EVENT_CONSUMERS
    get their ids.
    """
    started = time.monotonic()
    received_at = received_at or timezone.now()
    result = IngestResult()
    if len(payloads) > MAX_BATCH_EVENTS:
        raise InvalidEventError(
            f"a batch holds at most {MAX_BATCH_EVENTS} events, not {len(payloads)}",
            code="batch_too_large",
        )

    for index, payload in enumerate(payloads):
        message_id = payload.get("messageId") if isinstance(payload, dict) else None
        try:
            parsed = parse_event(
                payload,
                received_at=received_at,
                default_type=default_type,
                batch_sent_at=batch_sent_at,
                batch_context=batch_context,
            )
            event, warnings = store_event(source, parsed, received_at=received_at)
        except InvalidEventError as exc:
            result.errors.append(EventProblem(index, message_id, exc.code, exc.message))
            continue
        if event is None:
            result.duplicates += 1
            continue
        result.stored.append(event.pk)
        result.warnings.extend(
            EventProblem(index, parsed.message_id, "contact_not_created", warning)
            for warning in warnings
        )

    stored = list(result.stored)
    transaction.on_commit(lambda: notify_consumers(stored))
    logger.info(
        "source %s: stored %d events, %d duplicates, %d rejected in %d ms",
        source.pk,
        len(result.stored),
        result.duplicates,
        len(result.errors),
        (time.monotonic() - started) * 1000,
        extra={"source_id": source.pk, "count": len(result.stored)},
    )
    return result


def store_event(
    source: Source, parsed: ParsedEvent, *, received_at: datetime
) -> tuple[Event | None, list[str]]:
    """Store one parsed event; return (None, []) when its messageId is known."""
    if Event.objects.filter(source=source, message_id=parsed.message_id).exists():
        return None, []
    try:
        with transaction.atomic():
            profile = contact_services.resolve_profile(
                user_id=parsed.user_id, anonymous_id=parsed.anonymous_id
            )
            warnings: list[str] = []
            if parsed.type == EventType.IDENTIFY and parsed.traits:
                identified = contact_services.identify_profile(
                    profile,
                    traits=parsed.traits,
                    source=f"identify via source {source.name}",
                    occurred_at=parsed.timestamp,
                )
                profile, warnings = identified.profile, identified.warnings
                if identified.contact_changed:
                    adopt_profile_events(profile.pk, contact_id=profile.contact_id)
            event = Event.objects.create(
                source=source,
                message_id=parsed.message_id,
                type=parsed.type,
                name=parsed.name,
                user_id=parsed.user_id or "",
                anonymous_id=parsed.anonymous_id or "",
                profile=profile,
                contact_id=profile.contact_id,
                properties=parsed.properties,
                traits=parsed.traits,
                context=parsed.context,
                timestamp=parsed.timestamp,
                original_timestamp=parsed.original_timestamp,
                sent_at=parsed.sent_at,
                received_at=received_at,
            )
    except IntegrityError:
        # The same messageId committed by a concurrent request between our
        # check and our insert: the unique constraint makes it a duplicate.
        if Event.objects.filter(source=source, message_id=parsed.message_id).exists():
            return None, []
        raise
    logger.debug("event %s stored for profile %s", event.pk, profile.pk)
    return event, warnings


def adopt_profile_events(profile_id: int, *, contact_id: int) -> int:
    """Give a contact the events its profile stored before the phone was known."""
    count = Event.objects.filter(profile_id=profile_id, contact__isnull=True).update(
        contact_id=contact_id
    )
    if count:
        logger.info(
            "contact %s: adopted %d earlier events of profile %s",
            contact_id,
            count,
            profile_id,
        )
    return count


def record_system_event(
    contact_id: int, *, name: str, properties: dict, message_id: str
) -> Event | None:
    """Record something Regal itself observed as an event of the contact.

    System events come from the built-in "regal" source and go through the
    same consumers as the brand's events, so campaigns can react to them.
    """
    contact = Contact.objects.get(pk=contact_id)
    profile = contact.profiles.order_by("-updated_at").first()
    if profile is None:
        profile = contact_services.attach_new_profile(contact)
    source = get_system_source()
    now = timezone.now()
    event, created = Event.objects.get_or_create(
        source=source,
        message_id=message_id,
        defaults={
            "type": EventType.TRACK,
            "name": name,
            "profile": profile,
            "contact": contact,
            "properties": properties,
            "timestamp": now,
            "received_at": now,
        },
    )
    if not created:
        return None
    transaction.on_commit(lambda: notify_consumers([event.pk]))
    logger.info("contact %s: recorded %s as event %s", contact_id, name, event.pk)
    return event


def get_system_source() -> Source:
    source, _ = Source.objects.get_or_create(
        name=SYSTEM_SOURCE_NAME, defaults={"is_enabled": False}
    )
    return source


def notify_consumers(event_ids: list[int]) -> None:
    if not event_ids:
        return
    for path in settings.REGAL_EVENT_CONSUMERS:
        import_string(path)(event_ids)


def create_source(name: str) -> Source:
    source = Source.objects.create(name=name)
    logger.info("source %s created: %s", source.pk, name)
    return source
