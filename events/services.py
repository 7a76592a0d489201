"""Ingestion: store events, resolve who they are about, hand them on.

Most events are about a person Regal already knows and change nothing about
them: those are stored together, in one INSERT per batch. Events that may
change a person (identify, alias, an id seen for the first time) are stored
one at a time, in order, each in its own transaction, with the pending
inserts flushed before them so that an identify later in a batch still gives
the contact the events that came before it.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from contacts import services as contact_services
from contacts.choices import IdentifierKind
from contacts.models import Contact, Profile, ProfileIdentifier
from events import registry
from events.choices import EventType, LogLevel
from events.errors import InvalidEventError
from events.inserts import insert_events
from events.models import Event, Source, SourceLogEntry, new_write_key
from events.parsing import ParsedEvent, parse_event

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 2500
# The built-in, disabled source under which Regal records what it observes.
SYSTEM_SOURCE_NAME = "regal"
# How long a rotated-out write key keeps working: a day gives every client a
# deploy window to move to the new key.
WRITE_KEY_GRACE = timedelta(hours=24)
# A flood of bad events must not become a flood of log rows.
MAX_LOG_ENTRIES_PER_REQUEST = 50


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


@dataclass
class Batch:
    """The state of one ingest call: what is parsed, pending and known."""

    source: Source
    received_at: datetime
    result: IngestResult
    # (kind, value) -> (profile id, contact id) of identifiers already resolved.
    known: dict = field(default_factory=dict)
    # Rows of events to insert together (see event_row), with their parse.
    pending: list[tuple[dict, ParsedEvent]] = field(default_factory=list)
    seen_message_ids: set = field(default_factory=set)
    stored_parsed: list[ParsedEvent] = field(default_factory=list)


def ingest_events(
    source: Source,
    payloads: list,
    *,
    default_type: str | None = None,
    batch_sent_at: object = None,
    batch_context: dict | None = None,
    received_at: datetime | None = None,
    traits_identify: bool = False,
    notify: bool = True,
) -> IngestResult:
    """Store a batch of Segment-shaped events for a source.

    Each event stands alone: a bad one is reported by its index and the others
    are kept. A messageId the source has sent before stores nothing. Once the
    stored events have committed, the consumers named by REGAL_EVENT_CONSUMERS
    get their ids. `traits_identify` applies every event's traits to the
    person, as Regal's own events API does. `notify=False` stores without
    handing the events on, for imports of history campaigns must not act on.
    """
    started = time.monotonic()
    if len(payloads) > MAX_BATCH_EVENTS:
        raise InvalidEventError(
            f"a batch holds at most {MAX_BATCH_EVENTS} events, not {len(payloads)}",
            code="batch_too_large",
        )
    batch = Batch(source, received_at or timezone.now(), IngestResult())

    parsed_events = parse_all(
        batch,
        payloads,
        default_type=default_type,
        batch_sent_at=batch_sent_at,
        batch_context=batch_context,
        traits_identify=traits_identify,
    )
    preload_identifiers(batch, parsed_events)
    for index, parsed in parsed_events:
        store_in_batch(batch, index, parsed)
    flush_pending(batch)

    result = batch.result
    registry.record_seen(batch.stored_parsed)
    write_source_log(source, result)
    stored = list(result.stored)
    if notify:
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


def parse_all(batch: Batch, payloads: list, **options) -> list[tuple[int, ParsedEvent]]:
    parsed_events = []
    for index, payload in enumerate(payloads):
        try:
            parsed = parse_event(payload, received_at=batch.received_at, **options)
        except InvalidEventError as exc:
            message_id = payload.get("messageId") if isinstance(payload, dict) else None
            batch.result.errors.append(
                EventProblem(index, message_id, exc.code, exc.message)
            )
            continue
        parsed_events.append((index, parsed))
    return parsed_events


def preload_identifiers(batch: Batch, parsed_events: list) -> None:
    """Resolve, in one query, the profiles of every id the batch names."""
    values = {
        value
        for _, parsed in parsed_events
        for value in (parsed.user_id, parsed.anonymous_id)
        if value
    }
    rows = ProfileIdentifier.objects.filter(value__in=values).values_list(
        "kind", "value", "profile_id", "profile__contact_id"
    )
    for kind, value, profile_id, contact_id in rows:
        batch.known[(kind, value)] = (profile_id, contact_id)


def store_in_batch(batch: Batch, index: int, parsed: ParsedEvent) -> None:
    # A messageId stored by an earlier request is found where the event is
    # written: the fast path's INSERT skips it, store_event checks for it.
    if parsed.message_id in batch.seen_message_ids:
        batch.result.duplicates += 1
        return
    batch.seen_message_ids.add(parsed.message_id)
    known = known_profile(batch, parsed)
    if known and not changes_identity(parsed):
        profile_id, contact_id = known
        batch.pending.append((event_row(batch, parsed, profile_id, contact_id), parsed))
        return

    flush_pending(batch)
    try:
        event, warnings = store_event(
            batch.source, parsed, received_at=batch.received_at
        )
    except InvalidEventError as exc:
        batch.result.errors.append(
            EventProblem(index, parsed.message_id, exc.code, exc.message)
        )
        return
    if event is None:
        batch.result.duplicates += 1
        return
    remember(batch, parsed, event, warnings)
    batch.result.stored.append(event.pk)
    batch.stored_parsed.append(parsed)
    batch.result.warnings.extend(
        EventProblem(index, parsed.message_id, warning.code, warning.message)
        for warning in warnings
    )


def known_profile(batch: Batch, parsed: ParsedEvent) -> tuple[int, int | None] | None:
    """The (profile, contact) both of the event's ids already agree on, if any."""
    by_user = batch.known.get((IdentifierKind.USER_ID, parsed.user_id))
    by_anon = batch.known.get((IdentifierKind.ANONYMOUS_ID, parsed.anonymous_id))
    if parsed.user_id and parsed.anonymous_id:
        return by_user if by_user and by_user == by_anon else None
    return by_user or by_anon


def changes_identity(parsed: ParsedEvent) -> bool:
    return bool(parsed.identify_traits) or parsed.type == EventType.ALIAS


def remember(
    batch: Batch,
    parsed: ParsedEvent,
    event: Event,
    warnings: list[contact_services.IdentityWarning],
) -> None:
    """After the slow path, later events of the same ids may take the fast one.

    The slow path may have given the profile a new contact: every id the batch
    knows of the profile follows, so that an event sent later under another
    of its ids goes to that contact too. An anonymousId whose merge was
    refused stays another user's, and is not taken as this profile's.
    """
    refused = any(warning.code == "merge_refused" for warning in warnings)
    for key, (profile_id, _) in batch.known.items():
        if profile_id == event.profile_id:
            batch.known[key] = (event.profile_id, event.contact_id)
    if parsed.previous_id:
        # The alias may have merged the profile this id named: resolve it anew.
        for kind in IdentifierKind.values:
            batch.known.pop((kind, parsed.previous_id), None)
    for kind, value in (
        (IdentifierKind.USER_ID, parsed.user_id),
        (IdentifierKind.ANONYMOUS_ID, None if refused else parsed.anonymous_id),
    ):
        if value:
            batch.known[(kind, value)] = (event.profile_id, event.contact_id)


def flush_pending(batch: Batch) -> None:
    """Insert the events waiting in the batch, in one statement."""
    if not batch.pending:
        return
    # A row a concurrent request stored first is not inserted: its duplicate.
    ids = insert_events([row for row, _ in batch.pending])
    for row, parsed in batch.pending:
        if row["message_id"] in ids:
            batch.result.stored.append(ids[row["message_id"]])
            batch.stored_parsed.append(parsed)
        else:
            batch.result.duplicates += 1
    batch.pending = []


def event_row(
    batch: Batch, parsed: ParsedEvent, profile_id: int, contact_id: int | None
) -> dict:
    """The event's stored fields, by attribute name.

    The fast path inserts these as they are: building a model instance per
    event cost more than a tenth of a batch's CPU.
    """
    return {
        "source_id": batch.source.pk,
        "message_id": parsed.message_id,
        "type": parsed.type,
        "name": parsed.name,
        "user_id": parsed.user_id or "",
        "anonymous_id": parsed.anonymous_id or "",
        "previous_id": parsed.previous_id or "",
        "group_id": parsed.group_id or "",
        "profile_id": profile_id,
        "contact_id": contact_id,
        "properties": parsed.properties,
        "traits": parsed.traits,
        "context": parsed.context,
        "timestamp": parsed.timestamp,
        "original_timestamp": parsed.original_timestamp,
        "sent_at": parsed.sent_at,
        "received_at": batch.received_at,
    }


def new_event(
    batch: Batch, parsed: ParsedEvent, profile_id: int, contact_id: int | None
) -> Event:
    event = Event(**event_row(batch, parsed, profile_id, contact_id))
    event.source = batch.source
    return event


def store_event(
    source: Source, parsed: ParsedEvent, *, received_at: datetime
) -> tuple[Event | None, list[contact_services.IdentityWarning]]:
    """Store one event that may change who someone is; (None, []) if a duplicate.

    Resolves the profile (joining or merging ids), applies the person's
    traits, and gives a contact the events its profile stored before.
    """
    if Event.objects.filter(source=source, message_id=parsed.message_id).exists():
        return None, []
    try:
        with transaction.atomic():
            profile, warnings = resolve_person(source, parsed)
            event = new_event(
                Batch(source, received_at, IngestResult()),
                parsed,
                profile.pk,
                profile.contact_id,
            )
            event.save(force_insert=True)
    except IntegrityError:
        # The same messageId committed by a concurrent request between our
        # check and our insert: the unique constraint makes it a duplicate.
        if Event.objects.filter(source=source, message_id=parsed.message_id).exists():
            return None, []
        raise
    logger.debug("event %s stored for profile %s", event.pk, profile.pk)
    return event, warnings


def resolve_person(source: Source, parsed: ParsedEvent):
    resolution = contact_services.resolve_profile(
        user_id=parsed.user_id,
        anonymous_id=parsed.anonymous_id,
        cause=f"{parsed.type} {parsed.message_id} via source {source.name}",
    )
    profile, warnings = resolution.profile, list(resolution.warnings)
    merged = list(resolution.merged)
    if parsed.type == EventType.ALIAS:
        alias = contact_services.alias_profile(
            profile,
            previous_id=parsed.previous_id,
            cause=f"alias {parsed.message_id} via source {source.name}",
        )
        merged += alias.merged
        warnings += alias.warnings
    contact_changed = bool(merged)
    if parsed.identify_traits:
        identified = contact_services.identify_profile(
            profile,
            traits=parsed.identify_traits,
            source=f"{parsed.type} via source {source.name}",
            occurred_at=parsed.timestamp,
        )
        profile = identified.profile
        warnings += identified.warnings
        contact_changed = contact_changed or identified.contact_changed
        record_identity_events(identified, parsed.message_id)
    profile.refresh_from_db(fields=["contact"])
    if contact_changed and profile.contact_id:
        adopt_profile_events([profile.pk, *merged], contact_id=profile.contact_id)
    return profile, warnings


def record_identity_events(identified, message_id: str) -> None:
    """Record what an identify did to a contact as the contact's own events."""
    contact = identified.contact
    if contact is None:
        return
    if identified.contact_created:
        record_system_event(
            contact.pk,
            name="contact.created",
            properties={"phone": contact.phone},
            message_id=f"contact.created:{contact.pk}",
        )
    for change in identified.consent_changes:
        name = "contact.subscribed" if change.subscribed else "contact.unsubscribed"
        record_system_event(
            contact.pk,
            name=name,
            properties={"channel": change.channel, "address": change.address},
            message_id=f"{name}:{change.channel}:{change.address}:{message_id}",
        )


def adopt_profile_events(profile_ids: list[int], *, contact_id: int) -> int:
    """Give a contact the events its profiles stored before the phone was known.

    The recent ones (within REGAL_ADOPTED_EVENT_MAX_AGE) are handed on to the
    consumers as if they had just arrived: "applied anonymously, then gave a
    phone" is the journey campaigns exist for. Older ones are history.
    Profiles merged into these ones before the phone arrived count as theirs.
    """
    profile_ids = with_merged_profiles(profile_ids)
    adopted = list(
        Event.objects.filter(
            profile_id__in=profile_ids, contact__isnull=True
        ).values_list("pk", "timestamp")
    )
    count = Event.objects.filter(pk__in=[pk for pk, _ in adopted]).update(
        contact_id=contact_id
    )
    recent_after = timezone.now() - settings.REGAL_ADOPTED_EVENT_MAX_AGE
    recent = [pk for pk, moment in adopted if moment >= recent_after]
    if recent:
        transaction.on_commit(lambda: notify_consumers(recent))
    if count:
        logger.info(
            "contact %s: adopted %d earlier events of profiles %s",
            contact_id,
            count,
            profile_ids,
        )
    return count


def with_merged_profiles(profile_ids: list[int]) -> list[int]:
    """The profiles and every profile merged into them, directly or in a chain.

    A merged profile's events keep it as their profile, so an anonymous
    visitor merged into a user who has no phone yet is found only this way.
    """
    found = set(profile_ids)
    newest = found
    while newest:
        merged = Profile.objects.filter(merged_into__in=newest)
        newest = set(merged.values_list("pk", flat=True)) - found
        found |= newest
    return sorted(found)


def write_source_log(source: Source, result: IngestResult) -> None:
    """Keep a request's rejections and warnings where the source's admin sees them."""
    problems = [(LogLevel.ERROR, problem) for problem in result.errors]
    problems += [(LogLevel.WARNING, problem) for problem in result.warnings]
    if not problems or source.name == SYSTEM_SOURCE_NAME:
        return
    # A rejected event may carry NULs, which PostgreSQL text cannot hold; the
    # log is for people to read, so they are dropped.
    SourceLogEntry.objects.bulk_create(
        SourceLogEntry(
            source=source,
            level=level,
            code=problem.code,
            message=problem.message.replace("\x00", ""),
            message_id=str(problem.message_id or "").replace("\x00", "")[:255],
        )
        for level, problem in problems[:MAX_LOG_ENTRIES_PER_REQUEST]
    )


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


def rotate_write_key(source: Source, *, rotated_by: str) -> Source:
    """Give a source a new write key; the old one works for WRITE_KEY_GRACE more."""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        source.previous_write_key = source.write_key
        source.previous_key_expires_at = timezone.now() + WRITE_KEY_GRACE
        source.write_key = new_write_key()
        source.save(
            update_fields=[
                "previous_write_key",
                "previous_key_expires_at",
                "write_key",
                "updated_at",
            ]
        )
        SourceLogEntry.objects.create(
            source=source,
            level=LogLevel.WARNING,
            code="write_key_rotated",
            message=(
                f"write key rotated by {rotated_by}; the old key works until "
                f"{source.previous_key_expires_at:%Y-%m-%d %H:%M} UTC"
            ),
        )
    logger.info("source %s: write key rotated by %s", source.pk, rotated_by)
    return source
