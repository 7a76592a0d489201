"""The campaign engine: enroll on trigger events, run due steps, exit on exits.

Nothing here runs while an event is accepted: ingestion hands the new event
ids to `schedule_event_evaluation`, and the q cluster does the rest.
"""

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from agents import services as agent_services
from campaigns import queries
from campaigns.choices import CampaignStatus, EnrollmentStatus, StepKind
from campaigns.models import (
    Campaign,
    CampaignEnrollment,
    CampaignEnrollmentActivity,
    CampaignStep,
    CampaignTicker,
)
from campaigns.templating import render_template
from contacts.choices import Channel
from contacts.models import Contact
from events.models import Event

logger = logging.getLogger(__name__)

DUE_BATCH = 100
# How long one tick polls before it enqueues the next; also the longest that
# stopping the q cluster waits for a tick.
TICK_WINDOW = timedelta(seconds=5)
# A chain that has not renewed its lease for this long is dead; the schedule
# then starts a new one.
TICKER_LEASE = timedelta(seconds=30)
# A step that raised is tried again after this long, not at every tick.
ERROR_BACKOFF = timedelta(minutes=5)


def schedule_event_evaluation(event_ids: list[int]) -> None:
    """Have the q cluster evaluate newly stored events against live campaigns."""
    async_task("campaigns.tasks.evaluate_events_task", event_ids, group="campaigns")


def evaluate_events(event_ids: list[int]) -> int:
    """Exit and enroll contacts for these events, in the order they happened.

    Return how many enrollments were made.
    """
    started = time.monotonic()
    events = (
        Event.objects.filter(pk__in=event_ids, contact__isnull=False)
        .select_related("contact")
        .order_by("timestamp", "id")
    )
    enrolled = []
    for event in events:
        exit_enrollments(event)
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


def enroll_contact(
    campaign: Campaign, *, contact: Contact, event: Event
) -> CampaignEnrollment | None:
    """Start a contact on a campaign, unless it may not enter.

    A contact without SMS consent does not enter; one already inside does
    not enter again; one event enrolls at most once.
    """
    if not contact.has_consent(Channel.SMS):
        logger.info(
            "contact %s not enrolled in campaign %s: no SMS consent",
            contact.pk,
            campaign.pk,
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


def exit_enrollments(event: Event) -> int:
    """End the contact's enrollments that this event is the exit event of."""
    exited = 0
    for enrollment in queries.list_active_enrollments_exited_by(
        event.contact_id, event.name
    ):
        if entered_before(enrollment, event):
            with transaction.atomic():
                locked = queries.enrollment_for_update(enrollment.pk)
                if locked and locked.status == EnrollmentStatus.ACTIVE:
                    finish(locked, EnrollmentStatus.EXITED, exit_reason(event))
                    exited += 1
    return exited


def entered_before(enrollment: CampaignEnrollment, event: Event) -> bool:
    trigger = enrollment.trigger_event
    return trigger is None or (event.timestamp, event.pk) >= (
        trigger.timestamp,
        trigger.pk,
    )


def exit_reason(event: Event) -> str:
    return f"exit event {event.name} (event {event.pk})"


def run_enrollment(enrollment_id: int, *, skip_locked: bool = False) -> None:
    """Run an enrollment's steps that are due now, up to its next wait.

    Each step commits on its own, with the enrollment row locked: a run
    that is repeated, or that races another, finds the step already taken.
    """
    while run_next_step(enrollment_id, skip_locked=skip_locked):
        pass


def run_next_step(enrollment_id: int, *, skip_locked: bool) -> bool:
    """Run one due step; return whether another may be due right away."""
    with transaction.atomic():
        enrollment = queries.enrollment_for_update(
            enrollment_id, skip_locked=skip_locked
        )
        if not is_due(enrollment):
            return False
        if enrollment.campaign.status == CampaignStatus.STOPPED:
            finish(enrollment, EnrollmentStatus.EXITED, "campaign stopped")
            return False
        exit_event = find_exit_event(enrollment)
        if exit_event:
            finish(enrollment, EnrollmentStatus.EXITED, exit_reason(exit_event))
            return False
        steps = list(enrollment.campaign.steps.all())
        if enrollment.step_index >= len(steps):
            finish(enrollment, EnrollmentStatus.COMPLETED, "")
            return False
        return run_step(enrollment, steps[enrollment.step_index])


def is_due(enrollment: CampaignEnrollment | None) -> bool:
    return (
        enrollment is not None
        and enrollment.status == EnrollmentStatus.ACTIVE
        and enrollment.campaign.status != CampaignStatus.PAUSED
        and enrollment.next_run_at is not None
        and enrollment.next_run_at <= timezone.now()
    )


def find_exit_event(enrollment: CampaignEnrollment) -> Event | None:
    """The exit event the contact sent since the trigger, if any.

    Checked at every step, not only when the exit event is evaluated: the
    two events may be evaluated by different workers in either order.
    """
    exit_name = enrollment.campaign.exit_event
    trigger = enrollment.trigger_event
    if not exit_name:
        return None
    events = Event.objects.filter(contact=enrollment.contact_id, name=exit_name)
    if trigger is not None:
        events = events.filter(timestamp__gte=trigger.timestamp).exclude(pk=trigger.pk)
    return events.order_by("timestamp", "id").first()


def run_step(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    enrollment.step_index += 1
    if step.kind == StepKind.WAIT:
        enrollment.next_run_at = timezone.now() + step.wait
        enrollment.save(update_fields=["step_index", "next_run_at"])
        transaction.on_commit(ensure_ticking)
        record_activity(
            enrollment,
            "waiting",
            f"until {enrollment.next_run_at:%Y-%m-%d %H:%M:%S} UTC",
            step,
        )
        return False
    enrollment.save(update_fields=["step_index"])
    if step.kind == StepKind.SEND_SMS:
        send_step_sms(enrollment, step)
    return True


def send_step_sms(enrollment: CampaignEnrollment, step: CampaignStep) -> None:
    contact = enrollment.contact
    if not contact.has_consent(Channel.SMS):
        record_activity(enrollment, "skipped", "no SMS consent", step)
        return
    body = render_template(
        step.body,
        contact=contact,
        event=enrollment.trigger_event,
        campaign=enrollment.campaign,
    )
    message = agent_services.queue_sms(
        contact,
        body=body,
        # The key that makes this step's SMS go out once per enrollment.
        idempotency_key=f"campaign-enrollment:{enrollment.pk}:step:{step.pk}",
    )
    record_activity(enrollment, "sms_queued", f"message {message.pk}", step)


def finish(enrollment: CampaignEnrollment, status: str, reason: str) -> None:
    enrollment.status = status
    enrollment.finished_at = timezone.now()
    enrollment.next_run_at = None
    enrollment.exit_reason = reason
    enrollment.save(
        update_fields=["status", "finished_at", "next_run_at", "exit_reason"]
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


def run_due_steps(*, limit: int = DUE_BATCH) -> int:
    """Run the steps that have come due; return how many enrollments were due."""
    due = queries.list_due_enrollment_ids(limit=limit)
    for enrollment_id in due:
        try:
            run_enrollment(enrollment_id, skip_locked=True)
        except Exception:
            logger.exception(
                "enrollment %s: step failed, retrying later", enrollment_id
            )
            CampaignEnrollment.objects.filter(pk=enrollment_id).update(
                next_run_at=timezone.now() + ERROR_BACKOFF
            )
    return len(due)


def tick(*, chain_id: str | None = None) -> None:
    """Run due steps and lost sends for TICK_WINDOW, then hand on to the next tick.

    django-q2's scheduler fires at most once a minute, too coarse for a
    30-second wait; so ticks chain themselves, each a few seconds long so
    that stopping the cluster never waits long for one. The schedule only
    restarts the chain when its lease has run out.
    """
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
