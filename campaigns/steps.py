"""What each kind of step does when an enrollment reaches it.

Each handler runs inside the runner's transaction, with the enrollment row
locked, and moves the enrollment on with `advance` (or ends it). Effects on
the outside world are recorded under a key unique to the enrollment and the
step before anything is sent, so a step that runs twice acts once.
"""

import hashlib
import json
import logging
from datetime import datetime, time, timedelta

from django.utils import timezone

from agents import services as agent_services
from agents.services import MAX_SMS_LENGTH
from campaigns import compliance, conditions, queries
from campaigns.choices import (
    ConditionRole,
    DeliveryStatus,
    EnrollmentStatus,
    StepKind,
    WaitUntilSubject,
)
from campaigns.models import (
    CampaignEnrollment,
    CampaignSplitAssignment,
    CampaignStep,
    CampaignWebhookDelivery,
)
from campaigns.quiet_hours import NoAllowedTimeError, Window, next_allowed
from campaigns.services import (
    advance,
    condition_groups_match,
    finish,
    opener_key,
    record_activity,
)
from campaigns.templating import render_template
from contacts import services as contact_services
from contacts.timezones import contact_zones

logger = logging.getLogger(__name__)


def run_step(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    """Run `step`; return whether the enrollment's next step is due at once."""
    handler = HANDLERS[step.kind]
    return handler(enrollment, step)


def effect_key(enrollment: CampaignEnrollment, step: CampaignStep) -> str:
    """The key that makes a step's effect happen once per enrollment."""
    return f"campaign-enrollment:{enrollment.pk}:step:{step.pk}"


def go_next(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    advance(enrollment, queries.step_after(step))
    return True


def go_to(enrollment: CampaignEnrollment, step: CampaignStep, position) -> bool:
    if position is None:
        return go_next(enrollment, step)
    target = queries.step_at(step.campaign_id, position)
    if target is None:
        finish(
            enrollment, EnrollmentStatus.COMPLETED, f"no step at position {position}"
        )
        return False
    advance(enrollment, target)
    return True


def template_context(enrollment: CampaignEnrollment) -> dict:
    return {
        "contact": enrollment.contact,
        "event": enrollment.trigger_event,
        "campaign": enrollment.campaign,
    }


# Wait --------------------------------------------------------------------------


def run_wait(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    now = timezone.now()
    wake = wait_target(enrollment, step, now=now)
    if wake is None:
        record_activity(enrollment, "skipped", "the date to wait for is missing", step)
        return go_next(enrollment, step)
    window = step_window(step)
    if window is not None:
        try:
            wake = next_allowed(wake, contact_zones(enrollment.contact), window)
        except NoAllowedTimeError as exc:
            record_activity(enrollment, "skipped", exc.message, step)
            return go_next(enrollment, step)
    if wake <= now:
        record_activity(enrollment, "waited", "the time had already come", step)
        return go_next(enrollment, step)
    advance(enrollment, queries.step_after(step), run_at=wake)
    record_activity(enrollment, "waiting", f"until {wake:%Y-%m-%d %H:%M:%S} UTC", step)
    return False


def wait_target(
    enrollment: CampaignEnrollment, step: CampaignStep, *, now: datetime
) -> datetime | None:
    if not step.wait_until_key:
        return now + step.wait
    if step.wait_until_subject == WaitUntilSubject.EVENT:
        data = enrollment.trigger_event.properties if enrollment.trigger_event else {}
    else:
        data = conditions.contact_data(enrollment.contact)
    present, value = conditions.resolve(data, step.wait_until_key)
    moment = conditions.to_datetime(value) if present else None
    if moment is None:
        return None
    return moment + (step.wait_offset or timedelta(0))


def step_window(step: CampaignStep) -> Window | None:
    weekdays = [int(day) for day in step.allowed_weekdays.split(",") if day.strip()]
    if step.allowed_start is None and step.allowed_end is None and not weekdays:
        return None
    return Window(
        step.allowed_start or time(0),
        step.allowed_end or time(23, 59, 59),
        weekdays or range(7),
    )


# Branch and split ----------------------------------------------------------------


def run_branch(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    taken = branch_holds(enrollment, step)
    record_activity(
        enrollment, "branch", "condition true" if taken else "condition false", step
    )
    return go_to(enrollment, step, step.goto_position if taken else step.else_position)


def branch_holds(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    if (
        step.branch_event
        and not enrollment.contact.events.filter(
            name=step.branch_event, timestamp__gte=enrollment.entered_at
        ).exists()
    ):
        return False
    groups = queries.list_condition_groups(
        step.campaign_id, role=ConditionRole.BRANCH, step_id=step.pk
    )
    return condition_groups_match(
        groups, event=enrollment.trigger_event, contact=enrollment.contact
    )


def run_split(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    variants = list(step.variants.all())
    if not variants:
        return go_next(enrollment, step)
    assignment = CampaignSplitAssignment.objects.filter(
        enrollment=enrollment, step=step
    ).first()
    variant = (
        assignment.variant if assignment else pick_variant(enrollment, step, variants)
    )
    if assignment is None:
        CampaignSplitAssignment.objects.create(
            enrollment=enrollment, step=step, variant=variant
        )
    record_activity(enrollment, "split", f"variant {variant.label}", step)
    if variant.is_holdout:
        finish(enrollment, EnrollmentStatus.COMPLETED, f"holdout {variant.label}")
        return False
    return go_to(enrollment, step, variant.goto_position)


def pick_variant(enrollment: CampaignEnrollment, step: CampaignStep, variants: list):
    """A variant by its share, the same for a contact however often it is asked.

    The contact and the step are hashed into a bucket of 0-99; percentages
    fill the buckets in order, and any left over go to the last variant.
    """
    digest = hashlib.sha256(f"{enrollment.contact_id}:{step.pk}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    threshold = 0
    for variant in variants:
        threshold += variant.percent
        if bucket < threshold:
            return variant
    return variants[-1]


# Outreach ------------------------------------------------------------------------


def run_send_sms(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    now = timezone.now()
    verdict = compliance.check_sms(enrollment.campaign, enrollment.contact, now=now)
    if verdict.action == "defer":
        advance(enrollment, step, run_at=verdict.until)
        record_activity(enrollment, "deferred", verdict.reason, step)
        return False
    if verdict.action == "skip":
        record_activity(enrollment, "skipped", verdict.reason, step)
        return go_next(enrollment, step)
    body = render_template(step.body, **template_context(enrollment))
    if not body or len(body) > MAX_SMS_LENGTH:
        reason = (
            f"the text is {len(body)} characters for this contact, over the "
            f"{MAX_SMS_LENGTH} Twilio accepts"
            if body
            else "the text is empty for this contact"
        )
        record_activity(enrollment, "skipped", reason, step)
        return go_next(enrollment, step)
    message = agent_services.queue_sms(
        enrollment.contact,
        body=body,
        idempotency_key=effect_key(enrollment, step),
        media_url=step.media_url,
        requires_consent=not enrollment.campaign.is_transactional,
        send_before=verdict.send_before,
    )
    record_activity(enrollment, "sms_queued", f"message {message.pk}", step)
    return go_next(enrollment, step)


def run_create_task(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    verdict = compliance.check_call(enrollment.campaign, enrollment.contact)
    if verdict.action == "skip":
        record_activity(enrollment, "skipped", verdict.reason, step)
        return go_next(enrollment, step)
    now = timezone.now()
    context = template_context(enrollment)
    due_at = call_allowed_from(enrollment, now + (step.task_due_after or timedelta(0)))
    task = agent_services.open_call_task(
        enrollment.contact,
        idempotency_key=effect_key(enrollment, step),
        opener_key=opener_key(enrollment.campaign),
        opened_by=f"campaign {enrollment.campaign_id} ({enrollment.campaign.name})",
        priority=step.task_priority,
        due_at=due_at,
        due_by=now + step.task_due_within if step.task_due_within else None,
        notes=render_template(step.task_notes, **context),
        script=render_template(step.task_script, **context),
    )
    record_activity(enrollment, "task_opened", f"task {task.pk}", step)
    return go_next(enrollment, step)


def call_allowed_from(enrollment: CampaignEnrollment, moment: datetime) -> datetime:
    """The first moment at or after `moment` an agent may call, by quiet hours.

    The task still opens now; its due time tells the agent when to call.
    """
    window = compliance.quiet_hours_window(enrollment.campaign)
    if window is None:
        return moment
    try:
        return next_allowed(moment, contact_zones(enrollment.contact), window)
    except NoAllowedTimeError:
        return moment


def run_cancel_tasks(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    cancelled = agent_services.cancel_call_tasks(
        enrollment.contact,
        opener_key=opener_key(enrollment.campaign),
        reason=f"cancel step of campaign {enrollment.campaign_id}",
    )
    record_activity(enrollment, "tasks_cancelled", f"{cancelled} open task(s)", step)
    return go_next(enrollment, step)


def run_update_contact(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    context = template_context(enrollment)
    updates = {
        key: render_template(value, **context) if isinstance(value, str) else value
        for key, value in step.updates.items()
    }
    contact_services.update_contact_properties(
        enrollment.contact,
        properties=updates,
        source=f"campaign {enrollment.campaign_id} step {step.pk}",
    )
    record_activity(enrollment, "contact_updated", ", ".join(sorted(updates)), step)
    return go_next(enrollment, step)


def run_webhook(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    payload = render_template(
        step.webhook_payload or "{}", **template_context(enrollment)
    )
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        record_activity(enrollment, "skipped", f"the payload is not JSON: {exc}", step)
        return go_next(enrollment, step)
    delivery, created = CampaignWebhookDelivery.objects.get_or_create(
        enrollment=enrollment,
        step=step,
        defaults={
            "url": step.webhook_url,
            "payload": payload,
            "timeout_seconds": step.webhook_timeout_seconds,
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        record_activity(enrollment, "webhook_queued", f"delivery {delivery.pk}", step)
    return go_next(enrollment, step)


def run_end(enrollment: CampaignEnrollment, step: CampaignStep) -> bool:
    finish(enrollment, EnrollmentStatus.COMPLETED, "end step")
    return False


HANDLERS = {
    StepKind.WAIT: run_wait,
    StepKind.BRANCH: run_branch,
    StepKind.SPLIT: run_split,
    StepKind.SEND_SMS: run_send_sms,
    StepKind.CREATE_TASK: run_create_task,
    StepKind.CANCEL_TASKS: run_cancel_tasks,
    StepKind.UPDATE_CONTACT: run_update_contact,
    StepKind.WEBHOOK: run_webhook,
    StepKind.END: run_end,
}
