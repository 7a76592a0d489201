from django.db.models import QuerySet
from django.utils import timezone

from campaigns.choices import CampaignStatus, EnrollmentStatus
from campaigns.models import Campaign, CampaignEnrollment


def list_live_campaigns_triggered_by(event_name: str) -> QuerySet[Campaign]:
    return Campaign.objects.filter(status=CampaignStatus.LIVE, trigger_event=event_name)


def list_active_enrollments_exited_by(
    contact_id: int, event_name: str
) -> QuerySet[CampaignEnrollment]:
    return CampaignEnrollment.objects.filter(
        contact_id=contact_id,
        status=EnrollmentStatus.ACTIVE,
        campaign__exit_event=event_name,
    ).select_related("trigger_event")


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
        .select_related("campaign", "contact", "trigger_event")
        .filter(pk=enrollment_id)
        .first()
    )
