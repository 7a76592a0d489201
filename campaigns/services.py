"""The campaign engine: enroll on trigger events, run due steps, exit on exits.

Nothing here runs while an event is accepted: ingestion hands the new event
ids to `schedule_event_evaluation`, and the q cluster does the rest.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from agents import services as agent_services
from campaigns import conditions, queries
from campaigns.choices import CampaignStatus, ConditionRole, EnrollmentStatus
from campaigns.models import (
    Campaign,
    CampaignChange,
    CampaignEnrollment,
    CampaignEnrollmentActivity,
    CampaignStep,
    CampaignTicker,
)
from contacts.choices import Channel
from contacts.models import Contact
from events.models import Event

logger = logging.getLogger(__name__)

DUE_BATCH = 100
# A step that raised is tried again after this long, at most MAX_STEP_ATTEMPTS
# times; then the enrollment ends and the activity log says why.
ERROR_BACKOFF = timedelta(minutes=5)
MAX_STEP_ATTEMPTS = 5
EXIT_REASON_LENGTH = CampaignEnrollment._meta.get_field("exit_reason").max_length
# How long one tick polls before it enqueues the next; also the longest that
# stopping the q cluster waits for a tick.
TICK_WINDOW = timedelta(seconds=5)
# A chain that has not renewed its lease for this long is dead; the schedule
# then starts a new one.
TICKER_LEASE = timedelta(seconds=30)


def schedule_event_evaluation(event_ids: list[int]) -> None:
    """Have the q cluster evaluate newly stored events against live campaigns."""
    async_task("campaigns.tasks.evaluate_events_task", event_ids, group="campaigns")


def evaluate_events(event_ids: list[int]) -> int:
    """Exit, convert and enroll contacts for these events, in the order they
    happened. Return how many enrollments were made."""
    started = time.monotonic()
    events = (
        Event.objects.filter(pk__in=event_ids, contact__isnull=False)
        .select_related("contact")
        .order_by("timestamp", "id")
    )
    enrolled = []
    # An event without a name (identify, alias, group, an unnamed page) can be
    # nobody's trigger, exit or goal: an empty goal must not match it.
    for event in events.exclude(name=""):
        exit_enrollments(event)
        convert_enrollments(event)
        for campaign in queries.list_live_campaigns_triggered_by(event.name):
            enrollment = enroll_contact(campaign, contact=event.contact, event=event)
            if enrollment:
                enrolled.append(enrollment.pk)
    for enrollment_id in enrolled:
        run_enrollment(enrollment_id)
    logger.info(
        "evaluated %d events: %d enrollments in %d ms",
        len(event_ids),
        len(enrolled),
        (time.monotonic() - started) * 1000,
        extra={"count": len(event_ids)},
    )
    return len(enrolled)


def entry_refusal(campaign: Campaign, *, contact: Contact, event: Event) -> str:
    """Why this contact may not enter now, or "" if it may."""
    if not campaign.is_transactional and not contact.has_consent(Channel.SMS):
        return "no SMS consent"
    if not condition_groups_match(
        queries.list_condition_groups(campaign.pk, role=ConditionRole.TRIGGER),
        event=event,
        contact=contact,
    ):
        return "trigger conditions not met"
    previous = queries.list_enrollments_of(campaign.pk, contact.pk)
    if campaign.max_entries is not None and len(previous) >= campaign.max_entries:
        return f"entered {len(previous)} times, the most allowed"
    if campaign.cooldown and previous:
        last = max(enrollment.entered_at for enrollment in previous)
        if timezone.now() < last + campaign.cooldown:
            return f"in cool-down until {last + campaign.cooldown:%Y-%m-%d %H:%M} UTC"
    return ""


def enroll_contact(
    campaign: Campaign, *, contact: Contact, event: Event
) -> CampaignEnrollment | None:
    """Start a contact on a campaign, unless its entry rules refuse it.

    Not while already inside (a unique constraint, so two workers cannot
    both enroll); one event enrolls at most once.
    """
    refusal = entry_refusal(campaign, contact=contact, event=event)
    if refusal:
        logger.info(
            "contact %s not enrolled in campaign %s: %s",
            contact.pk,
            campaign.pk,
            refusal,
            extra={"contact_id": contact.pk, "campaign_id": campaign.pk},
        )
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            enrollment = CampaignEnrollment.objects.create(
                campaign=campaign,
                contact=contact,
                trigger_event=event,
                step=queries.first_step(campaign.pk),
                next_run_at=now,
                entered_at=now,
            )
            record_activity(enrollment, "entered", f"on event {event.pk} {event.name}")
    except IntegrityError:
        logger.debug(
            "contact %s already in campaign %s, or event %s already enrolled",
            contact.pk,
            campaign.pk,
            event.pk,
        )
        return None
    logger.info(
        "contact %s enrolled in campaign %s as enrollment %s",
        contact.pk,
        campaign.pk,
        enrollment.pk,
        extra={"contact_id": contact.pk, "campaign_id": campaign.pk},
    )
    return enrollment


def condition_groups_match(groups, *, event: Event | None, contact: Contact) -> bool:
    return conditions.matches(
        groups,
        event_data=event.properties if event else {},
        contact=conditions.contact_data(contact),
        now=timezone.now(),
    )


def exit_enrollments(event: Event) -> int:
    """End the contact's enrollments that this event is an exit event of."""
    exited = 0
    for enrollment in queries.list_active_enrollments_exited_by(
        event.contact_id, event.name
    ):
        if not exits_enrollment(enrollment, event):
            continue
        with transaction.atomic():
            locked = queries.enrollment_for_update(enrollment.pk)
            if locked and locked.status == EnrollmentStatus.ACTIVE:
                exit_enrollment(locked, exit_reason(event))
                exited += 1
    return exited


def exits_enrollment(enrollment: CampaignEnrollment, event: Event) -> bool:
    """Whether `event` is one of the campaign's exits, happened at or after the
    trigger, and meets the exit's conditions."""
    trigger = enrollment.trigger_event
    if trigger is not None and (
        event.pk == trigger.pk or event.timestamp < trigger.timestamp
    ):
        return False
    for exit_rule in queries.list_exits_named(enrollment.campaign_id, event.name):
        groups = queries.list_condition_groups(
            enrollment.campaign_id, role=ConditionRole.EXIT, exit_id=exit_rule.pk
        )
        if condition_groups_match(groups, event=event, contact=enrollment.contact):
            return True
    return False


def exit_reason(event: Event) -> str:
    return f"exit event {event.name} (event {event.pk})"


def exit_enrollment(enrollment: CampaignEnrollment, reason: str) -> None:
    """End an enrollment at once and cancel the call tasks its campaign opened."""
    finish(enrollment, EnrollmentStatus.EXITED, reason)
    cancelled = agent_services.cancel_call_tasks(
        enrollment.contact,
        opener_key=opener_key(enrollment.campaign),
        reason=f"enrollment exited: {reason}",
    )
    if cancelled:
        record_activity(enrollment, "tasks_cancelled", f"{cancelled} open task(s)")


def convert_enrollments(event: Event) -> int:
    """Mark converted the contact's enrollments whose goal this event is."""
    converted = 0
    for enrollment in queries.list_enrollments_converted_by(
        event.contact_id, event.name
    ):
        campaign = enrollment.campaign
        if event.timestamp < enrollment.entered_at:
            continue
        if (
            campaign.goal_window
            and event.timestamp > enrollment.entered_at + campaign.goal_window
        ):
            continue
        with transaction.atomic():
            locked = queries.enrollment_for_update(enrollment.pk)
            if locked is None or locked.converted_at:
                continue
            locked.converted_at = event.timestamp
            locked.revenue = revenue_of(event, campaign.goal_revenue_property)
            locked.save(update_fields=["converted_at", "revenue"])
            detail = f"goal event {event.name} (event {event.pk})"
            if locked.revenue is not None:
                detail += f", revenue {locked.revenue}"
            if locked.status == EnrollmentStatus.ACTIVE:
                finish(locked, EnrollmentStatus.CONVERTED, detail)
            else:
                record_activity(locked, "converted", detail)
            converted += 1
    return converted


def revenue_of(event: Event, key: str):
    if not key:
        return None
    present, value = conditions.resolve(event.properties, key)
    return conditions.to_number(value) if present else None


def run_enrollment(enrollment_id: int, *, skip_locked: bool = False) -> None:
    """Run an enrollment's steps that are due now, up to its next wait.

    Each step commits on its own, with the enrollment row locked: a run
    that is repeated, or that races another, finds the step already taken.
    """
    while run_next_step(enrollment_id, skip_locked=skip_locked):
        pass


def run_next_step(enrollment_id: int, *, skip_locked: bool) -> bool:
    """Run one due step; return whether another may be due right away."""
    from campaigns.steps import run_step

    with transaction.atomic():
        enrollment = queries.enrollment_for_update(
            enrollment_id, skip_locked=skip_locked
        )
        if not is_due(enrollment):
            return False
        if enrollment.campaign.status == CampaignStatus.STOPPED:
            exit_enrollment(enrollment, "campaign stopped")
            return False
        exit_event = find_exit_event(enrollment)
        if exit_event:
            exit_enrollment(enrollment, exit_reason(exit_event))
            return False
        if enrollment.step is None:
            finish(enrollment, EnrollmentStatus.COMPLETED, "")
            return False
        return run_step(enrollment, enrollment.step)


def is_due(enrollment: CampaignEnrollment | None) -> bool:
    return (
        enrollment is not None
        and enrollment.status == EnrollmentStatus.ACTIVE
        and enrollment.campaign.status != CampaignStatus.PAUSED
        and enrollment.next_run_at is not None
        and enrollment.next_run_at <= timezone.now()
    )


def find_exit_event(enrollment: CampaignEnrollment) -> Event | None:
    """An exit event the contact sent since the trigger, if any.

    Checked before every step, not only when the exit event is evaluated: the
    two events may be evaluated by different workers in either order.
    """
    names = queries.list_exit_names(enrollment.campaign_id)
    if not names:
        return None
    candidates = Event.objects.filter(contact=enrollment.contact_id, name__in=names)
    trigger = enrollment.trigger_event
    if trigger is not None:
        candidates = candidates.filter(timestamp__gte=trigger.timestamp).exclude(
            pk=trigger.pk
        )
    for event in candidates.order_by("timestamp", "id")[:50]:
        if exits_enrollment(enrollment, event):
            return event
    return None


def advance(
    enrollment: CampaignEnrollment,
    step: CampaignStep | None,
    *,
    run_at: datetime | None = None,
) -> None:
    """Move an enrollment on to `step` (None: the end), due at `run_at`."""
    enrollment.step = step
    enrollment.next_run_at = run_at or timezone.now()
    enrollment.attempts = 0
    enrollment.save(update_fields=["step", "next_run_at", "attempts"])
    if run_at and run_at > timezone.now():
        transaction.on_commit(ensure_ticking)


def finish(enrollment: CampaignEnrollment, status: str, reason: str) -> None:
    enrollment.status = status
    enrollment.finished_at = timezone.now()
    enrollment.next_run_at = None
    enrollment.step = None
    # The activity keeps the whole reason; the column holds what fits.
    enrollment.exit_reason = reason[:EXIT_REASON_LENGTH]
    enrollment.save(
        update_fields=["status", "finished_at", "next_run_at", "step", "exit_reason"]
    )
    record_activity(enrollment, status, reason)
    logger.info(
        "enrollment %s %s %s",
        enrollment.pk,
        status,
        reason,
        extra={
            "campaign_id": enrollment.campaign_id,
            "contact_id": enrollment.contact_id,
        },
    )


def record_activity(
    enrollment: CampaignEnrollment,
    action: str,
    detail: str,
    step: CampaignStep | None = None,
) -> None:
    CampaignEnrollmentActivity.objects.create(
        enrollment=enrollment, step=step, action=action, detail=detail
    )


def opener_key(campaign: Campaign) -> str:
    """How call tasks remember which campaign opened them."""
    return f"campaign:{campaign.pk}"


def run_due_steps(*, limit: int = DUE_BATCH) -> int:
    """Run the steps that have come due; return how many enrollments were due."""
    due = queries.list_due_enrollment_ids(limit=limit)
    for enrollment_id in due:
        try:
            run_enrollment(enrollment_id, skip_locked=True)
        except Exception as exc:
            logger.exception("enrollment %s: step failed", enrollment_id)
            record_step_failure(enrollment_id, error=f"{type(exc).__name__}: {exc}")
    return len(due)


def record_step_failure(enrollment_id: int, *, error: str) -> None:
    """Retry a failed step later, a bounded number of times, then give up.

    The activity log keeps `error` with each attempt, and the exit reason
    with the last: it is what an admin needs to fix the step.
    """
    with transaction.atomic():
        enrollment = queries.enrollment_for_update(enrollment_id)
        if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE:
            return
        enrollment.attempts += 1
        if enrollment.attempts >= MAX_STEP_ATTEMPTS:
            exit_enrollment(
                enrollment,
                f"step {enrollment.step} failed {enrollment.attempts} times: {error}",
            )
            return
        enrollment.next_run_at = timezone.now() + ERROR_BACKOFF
        enrollment.save(update_fields=["attempts", "next_run_at"])
        record_activity(
            enrollment,
            "step_failed",
            f"attempt {enrollment.attempts}: {error}; retrying at "
            f"{enrollment.next_run_at:%Y-%m-%d %H:%M} UTC",
            enrollment.step,
        )


def change_campaign_status(campaign: Campaign, status: str, *, changed_by: str) -> None:
    """Move a campaign to draft, live, paused or stopped, on the record.

    Pausing holds every enrollment where it is; resuming lets them go on.
    Stopping ends every active enrollment at once and cancels its tasks.
    """
    from campaigns.validation import campaign_problems

    if status == CampaignStatus.LIVE:
        problems = campaign_problems(campaign)
        if problems:
            raise CampaignInvalidError("; ".join(problems))
    with transaction.atomic():
        old = Campaign.objects.select_for_update().get(pk=campaign.pk).status
        if old == status:
            return
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        campaign.status = status
        CampaignChange.objects.create(
            campaign=campaign,
            changed_by=changed_by,
            field="status",
            old_value=old,
            new_value=status,
        )
        if status == CampaignStatus.STOPPED:
            for enrollment_id in queries.list_active_enrollment_ids(campaign.pk):
                enrollment = queries.enrollment_for_update(enrollment_id)
                exit_enrollment(enrollment, "campaign stopped")
    logger.info("campaign %s: %s -> %s by %s", campaign.pk, old, status, changed_by)


def pause_if_invalid(campaign: Campaign, *, changed_by: str) -> list[str]:
    """Pause a live campaign that an edit left unable to run; return why.

    Going live checks the campaign, but a live campaign's steps can still be
    edited; one left broken (a split no longer adding up to 100, say) is held
    rather than run wrongly, and the pause is on the record.
    """
    from campaigns.validation import campaign_problems

    if campaign.status != CampaignStatus.LIVE:
        return []
    problems = campaign_problems(campaign)
    if problems:
        change_campaign_status(
            campaign, CampaignStatus.PAUSED, changed_by=f"{changed_by} (invalid edit)"
        )
    return problems


def record_campaign_changes(
    campaign: Campaign, *, changed_by: str, changes: dict[str, tuple]
) -> None:
    """Keep the changes an admin made that must stay on record."""
    CampaignChange.objects.bulk_create(
        CampaignChange(
            campaign=campaign,
            changed_by=changed_by,
            field=field,
            old_value=str(old),
            new_value=str(new),
        )
        for field, (old, new) in changes.items()
    )


class CampaignInvalidError(Exception):
    """The campaign cannot go live; the message lists what to fix."""

    code = "campaign_invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def tick(*, chain_id: str | None = None) -> None:
    """Run due steps, retries and lost sends for TICK_WINDOW, then hand on to the
    next tick.

    django-q2's scheduler fires at most once a minute, too coarse for a
    30-second wait; so ticks chain themselves, each a few seconds long so
    that stopping the cluster never waits long for one. The schedule only
    restarts the chain when its lease has run out.
    """
    from campaigns.webhooks import deliver_due_webhooks

    chain_id = chain_id or uuid.uuid4().hex
    if not claim_ticker(chain_id):
        logger.debug(
            "tick of chain %s stopped: another chain holds the lease", chain_id
        )
        return
    deadline = time.monotonic() + TICK_WINDOW.total_seconds()
    while time.monotonic() < deadline:
        due = run_due_steps()
        agent_services.requeue_lost_sms()
        deliver_due_webhooks()
        if due < DUE_BATCH:
            time.sleep(settings.REGAL_TICK_SECONDS)
    if claim_ticker(chain_id):
        enqueue_tick(chain_id)


def ensure_ticking() -> None:
    """Start a chain of ticks unless one holds the lease."""
    if not CampaignTicker.objects.filter(lease_until__gt=timezone.now()).exists():
        enqueue_tick(None)


def enqueue_tick(chain_id: str | None) -> None:
    async_task("campaigns.tasks.tick_task", chain_id, group="ticker", save=False)


def claim_ticker(chain_id: str) -> bool:
    """Take or renew the ticker lease for this chain; False if another holds it.

    One conditional UPDATE, so two chains racing for an expired lease cannot
    both win.
    """
    now = timezone.now()
    CampaignTicker.objects.get_or_create(pk=1)
    claimed = (
        CampaignTicker.objects.filter(pk=1)
        .filter(
            Q(lease_until__isnull=True) | Q(lease_until__lte=now) | Q(chain_id=chain_id)
        )
        .update(chain_id=chain_id, lease_until=now + TICKER_LEASE)
    )
    return claimed == 1
