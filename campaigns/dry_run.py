"""Dry run: what a draft campaign would have done over the last days' events.

The trigger events of the period are replayed oldest first through the
campaign's entry rules and on to its first SMS step, and what would have
happened is counted. Nothing is written: every check made here only reads,
and the enrollments of the replay live in memory.

What the replay takes into account, and where it is an estimate:

- Entry goes through services.entry_refusal, as in the engine: consent,
  trigger conditions, and max entries and cool-down over real enrollments.
  The replay's own entries count too, judged at each event's time: max
  entries, cool-down, and "not while already inside".
- Consent is the contact's consent today, not on the event's day, and
  relative moments in conditions ("2 days ago") count from today, as
  entry_refusal reads them.
- On the way to the first SMS step, the steps are followed in position
  order: waits take their time and allowed hours; branches, splits and other
  steps are passed over as if everyone went on.
- An exit event (meeting its conditions) or the goal event between entry and
  the SMS ends the enrollment before it is texted.
- At the SMS step, compliance.check_sms judges consent, the frequency cap
  and quiet hours at the moment the step would have run; the replay's own
  texts count toward the cap. Quiet hours only defer a text, so a deferred
  contact is counted as messaged, and as deferred.
- A replayed enrollment stays inside until the waits of all its steps have
  passed, or an exit or goal event ends it.
"""

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from agents import queries as agent_queries
from campaigns import compliance, queries, services
from campaigns.choices import CampaignStatus, StepKind
from campaigns.errors import DryRunError
from campaigns.models import Campaign, CampaignEnrollment, CampaignStep
from campaigns.quiet_hours import NoAllowedTimeError, next_allowed
from campaigns.steps import step_window, wait_target
from contacts.models import Contact
from contacts.timezones import contact_zones
from events import queries as event_queries
from events.models import Event

logger = logging.getLogger(__name__)

MAX_DAYS = 90
# Each replayed event costs a few queries; past this many, the admin's page
# would wait too long, so the replay stops and says so.
MAX_EVENTS = 10_000

ALREADY_INSIDE = "already inside"
MOST_ENTRIES = "most entries reached"
IN_COOLDOWN = "in cool-down"
FREQUENCY_CAP = "frequency cap"

# entry_refusal and check_sms put numbers and dates in their reasons; these
# prefixes of theirs are counted under one label each.
REASON_PREFIXES = (
    ("entered ", MOST_ENTRIES),
    ("in cool-down", IN_COOLDOWN),
    ("frequency cap", FREQUENCY_CAP),
    ("No time in", "no allowed time in the contact's time zones"),
)


@dataclass
class DryRunResult:
    """What replaying `events` trigger events would have done.

    `blocked` counts refused entries by reason; of the contacts that
    `entered`, `ended_before_sms` counts those an exit or goal event took out
    before the SMS step, `not_messaged` those the SMS step skipped (consent,
    frequency cap), and `messaged` the rest, of whom `deferred` waited for
    quiet hours to end.
    """

    days: int
    since: datetime
    until: datetime
    sms_step: CampaignStep | None = None
    events: int = 0
    truncated: bool = False
    entered: int = 0
    blocked: Counter = field(default_factory=Counter)
    ended_before_sms: Counter = field(default_factory=Counter)
    not_messaged: Counter = field(default_factory=Counter)
    messaged: int = 0
    deferred: int = 0

    def reasons(self) -> dict[str, list[tuple[str, int]]]:
        """The counters as (reason, count) lists, most common first.

        For templates, which would read `counter.items` as the count of a
        reason named "items".
        """
        return {
            "blocked": self.blocked.most_common(),
            "ended_before_sms": self.ended_before_sms.most_common(),
            "not_messaged": self.not_messaged.most_common(),
        }


@dataclass
class ReplayedEntry:
    entered_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Ending:
    at: datetime
    reason: str


def simulate(campaign: Campaign, days: int, *, now: datetime | None = None):
    """Replay the last `days` days of trigger events through a draft campaign
    and return what would have happened, writing nothing.

    Raises DryRunError for a campaign that is not a draft, or a period
    outside 1 to MAX_DAYS days.
    """
    if campaign.status != CampaignStatus.DRAFT:
        raise DryRunError(
            f"Only a draft can be dry-run; this campaign is {campaign.status}."
        )
    if not 1 <= days <= MAX_DAYS:
        raise DryRunError(f"Choose from 1 to {MAX_DAYS} days, not {days}.")

    started = time.monotonic()
    until = now or timezone.now()
    since = until - timedelta(days=days)
    replay = Replay(campaign, since=since, until=until)
    result = replay.run(days)
    logger.info(
        "dry run of campaign %s over %d days: %d events, %d entered, "
        "%d messaged in %d ms",
        campaign.pk,
        days,
        result.events,
        result.entered,
        result.messaged,
        (time.monotonic() - started) * 1000,
        extra={"campaign_id": campaign.pk, "count": result.events},
    )
    return result


class Replay:
    """One dry run's state: the entries and texts it has made up so far."""

    def __init__(self, campaign: Campaign, *, since: datetime, until: datetime):
        self.campaign = campaign
        self.since = since
        self.until = until
        self.steps = list(campaign.steps.order_by("position", "id"))
        self.sms_step = next(
            (step for step in self.steps if step.kind == StepKind.SEND_SMS), None
        )
        self.exit_names = set(queries.list_exit_names(campaign.pk))
        self.entries: dict[int, list[ReplayedEntry]] = defaultdict(list)
        self.real_entries: dict[int, int] = {}
        self.texts: dict[int, list[datetime]] = defaultdict(list)

    def run(self, days: int) -> DryRunResult:
        result = DryRunResult(
            days=days, since=self.since, until=self.until, sms_step=self.sms_step
        )
        triggers = list(
            event_queries.list_events_for_replay(
                names=[self.campaign.trigger_event], since=self.since, until=self.until
            )[: MAX_EVENTS + 1]
        )
        result.truncated = len(triggers) > MAX_EVENTS
        triggers = triggers[:MAX_EVENTS]
        result.events = len(triggers)
        endings = self.ending_candidates({event.contact_id for event in triggers})
        for event in triggers:
            self.replay_event(event, endings[event.contact_id], result)
        return result

    def ending_candidates(self, contact_ids: set[int]) -> dict[int, list[Event]]:
        """The exit and goal events of these contacts in the period, by contact."""
        names = set(self.exit_names)
        if self.campaign.goal_event:
            names.add(self.campaign.goal_event)
        by_contact: dict[int, list[Event]] = defaultdict(list)
        if not names or not contact_ids:
            return by_contact
        for event in event_queries.list_events_for_replay(
            names=names, since=self.since, until=self.until, contact_ids=contact_ids
        ):
            by_contact[event.contact_id].append(event)
        return by_contact

    def replay_event(
        self, event: Event, candidates: list[Event], result: DryRunResult
    ) -> None:
        contact = event.contact
        refusal = services.entry_refusal(self.campaign, contact=contact, event=event)
        refusal = refusal or self.replay_refusal(contact, at=event.timestamp)
        if refusal:
            result.blocked[reason_label(refusal)] += 1
            return
        result.entered += 1

        # Never saved: the engine's read-only checks take it as they would
        # take a real enrollment.
        enrollment = CampaignEnrollment(
            campaign=self.campaign,
            contact=contact,
            trigger_event=event,
            entered_at=event.timestamp,
        )
        ending = self.first_ending(enrollment, candidates)
        moment = event.timestamp
        for step in self.steps:
            if step.kind == StepKind.WAIT:
                moment = wake_time(enrollment, step, at=moment)
            elif step == self.sms_step:
                if ending is not None and ending.at <= moment:
                    result.ended_before_sms[ending.reason] += 1
                    break
                moment = self.replay_sms(contact, at=moment, result=result)
        ends_at = min(moment, ending.at) if ending else moment
        self.entries[contact.pk].append(ReplayedEntry(event.timestamp, ends_at))

    def replay_refusal(self, contact: Contact, *, at: datetime) -> str:
        """Why the replay's own earlier entries keep this contact out."""
        previous = self.entries[contact.pk]
        if not previous:
            return ""
        maximum = self.campaign.max_entries
        if (
            maximum is not None
            and self.real_entry_count(contact) + len(previous) >= maximum
        ):
            return MOST_ENTRIES
        last = previous[-1]
        if self.campaign.cooldown and at < last.entered_at + self.campaign.cooldown:
            return IN_COOLDOWN
        if at < last.ends_at:
            return ALREADY_INSIDE
        return ""

    def real_entry_count(self, contact: Contact) -> int:
        if contact.pk not in self.real_entries:
            self.real_entries[contact.pk] = len(
                queries.list_enrollments_of(self.campaign.pk, contact.pk)
            )
        return self.real_entries[contact.pk]

    def first_ending(
        self, enrollment: CampaignEnrollment, candidates: list[Event]
    ) -> Ending | None:
        """The first exit or goal event that would end this enrollment."""
        trigger = enrollment.trigger_event
        campaign = self.campaign
        for event in candidates:
            if event.pk == trigger.pk or event.timestamp < trigger.timestamp:
                continue
            # The engine runs exits before goals for one event.
            if event.name in self.exit_names and services.exits_enrollment(
                enrollment, event
            ):
                return Ending(event.timestamp, f"exit event {event.name}")
            if event.name == campaign.goal_event and (
                not campaign.goal_window
                or event.timestamp <= enrollment.entered_at + campaign.goal_window
            ):
                return Ending(event.timestamp, f"goal event {event.name}")
        return None

    def replay_sms(
        self, contact: Contact, *, at: datetime, result: DryRunResult
    ) -> datetime:
        """Judge the SMS step at `at`; return when the enrollment moves on."""
        verdict = compliance.check_sms(self.campaign, contact, now=at)
        deferred = verdict.action == "defer"
        if deferred:
            # The engine asks again when quiet hours end, and sends then
            # unless something else (the cap) says no.
            at = verdict.until
            verdict = compliance.check_sms(self.campaign, contact, now=at)
        if verdict.action == "skip":
            result.not_messaged[reason_label(verdict.reason)] += 1
            return at
        if self.replayed_texts_reach_cap(contact, at=at):
            result.not_messaged[FREQUENCY_CAP] += 1
            return at
        result.messaged += 1
        result.deferred += deferred
        self.texts[contact.pk].append(at)
        return at

    def replayed_texts_reach_cap(self, contact: Contact, *, at: datetime) -> bool:
        """Whether the texts really sent and those replayed so far fill the cap."""
        count, period = compliance.sms_cap(self.campaign)
        replayed = [
            moment for moment in self.texts[contact.pk] if moment >= at - period
        ]
        if not replayed:
            return False
        sent = agent_queries.count_outbound_sms(contact.pk, since=at - period)
        return sent + len(replayed) >= count


def wake_time(enrollment: CampaignEnrollment, step: CampaignStep, *, at: datetime):
    """When a wait step reached at `at` would let the enrollment go on."""
    if not step.wait and not step.wait_until_key:
        return at
    wake = wait_target(enrollment, step, now=at)
    if wake is None:
        return at
    try:
        window = step_window(step)
        if window is not None:
            wake = next_allowed(wake, contact_zones(enrollment.contact), window)
    except (ValueError, NoAllowedTimeError):
        return at
    return max(wake, at)


def reason_label(reason: str) -> str:
    for prefix, label in REASON_PREFIXES:
        if reason.startswith(prefix):
            return label
    return reason
