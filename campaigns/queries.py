from collections import defaultdict

from django.db.models import QuerySet
from django.utils import timezone

from campaigns.choices import CampaignStatus, EnrollmentStatus
from campaigns.conditions import Condition
from campaigns.models import (
    Campaign,
    CampaignCondition,
    CampaignEnrollment,
    CampaignExit,
    CampaignStep,
)


def list_live_campaigns_triggered_by(event_name: str) -> QuerySet[Campaign]:
    """The live campaigns an event of this name may enroll into.

    An indexed lookup by name: the cost of an event does not grow with the
    number of live campaigns that wait for other events.
    """
    return Campaign.objects.filter(status=CampaignStatus.LIVE, trigger_event=event_name)


def list_condition_groups(
    campaign_id: int,
    *,
    role: str,
    exit_id: int | None = None,
    step_id: int | None = None,
) -> list[list[Condition]]:
    """The conditions of one role and owner, as OR-ed groups of AND-ed ones."""
    rows = CampaignCondition.objects.filter(
        campaign_id=campaign_id, role=role, exit_id=exit_id, step_id=step_id
    ).order_by("group", "id")
    groups: dict[int, list[Condition]] = defaultdict(list)
    for row in rows:
        groups[row.group].append(
            Condition(
                subject=row.subject,
                key=row.key,
                operator=row.operator,
                value=row.value,
                value_type=row.value_type,
            )
        )
    return list(groups.values())


def list_enrollments_of(campaign_id: int, contact_id: int) -> list[CampaignEnrollment]:
    return list(
        CampaignEnrollment.objects.filter(
            campaign_id=campaign_id, contact_id=contact_id
        )
    )


def first_step(campaign_id: int) -> CampaignStep | None:
    return (
        CampaignStep.objects.filter(campaign_id=campaign_id)
        .order_by("position", "id")
        .first()
    )


def step_after(step: CampaignStep) -> CampaignStep | None:
    """The step that follows `step` in its campaign, or None at the end."""
    return (
        CampaignStep.objects.filter(campaign_id=step.campaign_id)
        .filter(position__gte=step.position)
        .exclude(pk=step.pk)
        .exclude(position=step.position, id__lt=step.pk)
        .order_by("position", "id")
        .first()
    )


def step_at(campaign_id: int, position: int) -> CampaignStep | None:
    return (
        CampaignStep.objects.filter(campaign_id=campaign_id, position=position)
        .order_by("id")
        .first()
    )


def list_exit_names(campaign_id: int) -> list[str]:
    return list(
        CampaignExit.objects.filter(campaign_id=campaign_id)
        .values_list("event_name", flat=True)
        .distinct()
    )


def list_exits_named(campaign_id: int, event_name: str) -> QuerySet[CampaignExit]:
    return CampaignExit.objects.filter(campaign_id=campaign_id, event_name=event_name)


def list_active_enrollments_exited_by(
    contact_id: int, event_name: str
) -> QuerySet[CampaignEnrollment]:
    return (
        CampaignEnrollment.objects.filter(
            contact_id=contact_id,
            status=EnrollmentStatus.ACTIVE,
            campaign__exits__event_name=event_name,
        )
        .select_related("trigger_event", "contact", "campaign")
        .distinct()
    )


def list_enrollments_converted_by(
    contact_id: int, event_name: str
) -> QuerySet[CampaignEnrollment]:
    if not event_name:
        return CampaignEnrollment.objects.none()
    return CampaignEnrollment.objects.filter(
        contact_id=contact_id,
        converted_at__isnull=True,
        campaign__goal_event=event_name,
    ).select_related("campaign")


def list_due_enrollment_ids(*, limit: int) -> list[int]:
    return list(
        CampaignEnrollment.objects.filter(
            status=EnrollmentStatus.ACTIVE,
            campaign__status__in=[CampaignStatus.LIVE, CampaignStatus.STOPPED],
            next_run_at__lte=timezone.now(),
        )
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:limit]
    )


def list_active_enrollment_ids(campaign_id: int) -> list[int]:
    return list(
        CampaignEnrollment.objects.filter(
            campaign_id=campaign_id, status=EnrollmentStatus.ACTIVE
        ).values_list("pk", flat=True)
    )


def enrollment_for_update(
    enrollment_id: int, *, skip_locked: bool = False
) -> CampaignEnrollment | None:
    """Lock an enrollment while one of its steps runs.

    With skip_locked, a row another worker is running is passed over rather
    than waited for: two tickers never run the same step.
    """
    return (
        CampaignEnrollment.objects.select_for_update(
            skip_locked=skip_locked, of=("self",)
        )
        .select_related("campaign", "contact", "trigger_event", "step")
        .filter(pk=enrollment_id)
        .first()
    )
