"""The campaign engine: who enters, when the SMS goes, and what stops it.

The services are called directly, as the q cluster's tasks would call them;
waiting is done by moving `next_run_at` into the past, never by sleeping.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Message
from campaigns.choices import CampaignStatus, EnrollmentStatus, StepKind
from campaigns.models import CampaignEnrollment
from campaigns.services import evaluate_events, run_due_steps, run_enrollment
from contacts import services as contact_services
from tests.factories import make_campaign, make_contact, make_event

pytestmark = pytest.mark.django_db

TRIGGER = "Application Started"
EXIT = "Application Completed"


def trigger_event(contact, **overrides):
    return make_event(contact, name=TRIGGER, **overrides)


def exit_event(contact, **overrides):
    return make_event(contact, name=EXIT, **overrides)


def enroll(contact) -> CampaignEnrollment:
    event = trigger_event(contact)
    evaluate_events([event.pk])
    return CampaignEnrollment.objects.get(contact=contact)


def make_due(enrollment: CampaignEnrollment) -> None:
    """Let the enrollment's wait run out."""
    CampaignEnrollment.objects.filter(pk=enrollment.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )


def sms_bodies(contact) -> list[str]:
    return list(
        Message.objects.filter(conversation__contact=contact).values_list(
            "body", flat=True
        )
    )


def test_evaluate_events_enrolls_consenting_contact_on_trigger():
    campaign = make_campaign(wait=timedelta(minutes=30))
    contact = make_contact(sms_consent=True)
    event = trigger_event(contact)
    before = timezone.now()

    enrolled = evaluate_events([event.pk])

    enrollment = CampaignEnrollment.objects.get()
    assert enrolled == 1
    assert (enrollment.campaign, enrollment.contact, enrollment.trigger_event) == (
        campaign,
        contact,
        event,
    )
    assert (enrollment.status, enrollment.step.kind) == (
        EnrollmentStatus.ACTIVE,
        StepKind.SEND_SMS,
    )
    assert (
        before + timedelta(minutes=30)
        <= enrollment.next_run_at
        <= timezone.now() + timedelta(minutes=30)
    )
    assert sms_bodies(contact) == []


@pytest.mark.parametrize("sms_consent", [None, False], ids=["never-asked", "opted-out"])
def test_evaluate_events_does_not_enroll_contact_without_consent(sms_consent):
    make_campaign()
    contact = make_contact(sms_consent=sms_consent)

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 0
    assert not CampaignEnrollment.objects.exists()


@pytest.mark.parametrize(
    "status",
    [CampaignStatus.DRAFT, CampaignStatus.PAUSED, CampaignStatus.STOPPED],
    ids=str,
)
def test_evaluate_events_does_not_enroll_in_campaign_that_is_not_live(status):
    make_campaign(status=status)
    contact = make_contact(sms_consent=True)

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 0
    assert not CampaignEnrollment.objects.exists()


def test_evaluate_events_does_not_enroll_on_other_events():
    make_campaign()
    contact = make_contact(sms_consent=True)

    enrolled = evaluate_events([make_event(contact, name="Page Viewed").pk])

    assert enrolled == 0
    assert not CampaignEnrollment.objects.exists()


def test_evaluate_events_skips_event_without_contact():
    make_campaign()

    enrolled = evaluate_events([trigger_event(None).pk])

    assert enrolled == 0
    assert not CampaignEnrollment.objects.exists()


def test_due_step_after_wait_queues_rendered_sms():
    make_campaign(body="Hi {{ contact.first_name }}, finish your application")
    contact = make_contact(sms_consent=True, first_name="Ada")
    enrollment = enroll(contact)
    make_due(enrollment)

    due = run_due_steps()

    message = Message.objects.get()
    assert due == 1
    assert (message.conversation.contact, message.direction, message.status) == (
        contact,
        "outbound",
        "pending",
    )
    assert message.body == "Hi Ada, finish your application"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_run_at) == (
        EnrollmentStatus.COMPLETED,
        None,
    )


def test_step_still_waiting_queues_nothing():
    make_campaign(wait=timedelta(minutes=30))
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)

    due = run_due_steps()

    assert due == 0
    assert sms_bodies(contact) == []
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.step.kind) == (
        EnrollmentStatus.ACTIVE,
        StepKind.SEND_SMS,
    )


def test_sms_step_without_wait_is_queued_on_entry():
    make_campaign(wait=None, body="Welcome")
    contact = make_contact(sms_consent=True)

    enroll(contact)

    assert sms_bodies(contact) == ["Welcome"]


def test_exit_event_during_wait_ends_enrollment():
    make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    completed = exit_event(contact, timestamp=timezone.now() + timedelta(minutes=5))

    evaluate_events([completed.pk])

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason, enrollment.next_run_at) == (
        EnrollmentStatus.EXITED,
        f"exit event {EXIT} (event {completed.pk})",
        None,
    )


def test_exit_event_during_wait_means_nothing_is_sent():
    make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    completed = exit_event(contact, timestamp=timezone.now() + timedelta(minutes=5))
    evaluate_events([completed.pk])
    make_due(enrollment)

    run_due_steps()

    assert sms_bodies(contact) == []


def test_exit_event_not_yet_evaluated_stops_the_due_step():
    make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    completed = exit_event(contact, timestamp=timezone.now() + timedelta(minutes=5))
    make_due(enrollment)

    run_due_steps()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        f"exit event {EXIT} (event {completed.pk})",
    )
    assert sms_bodies(contact) == []


@pytest.mark.parametrize(
    "wait", [timedelta(minutes=30), None], ids=["wait-first", "sms-first"]
)
def test_exit_event_evaluated_before_its_trigger_still_prevents_the_send(wait):
    make_campaign(wait=wait)
    contact = make_contact(sms_consent=True)
    started_at = timezone.now() - timedelta(minutes=10)
    started = trigger_event(contact, timestamp=started_at)
    completed = exit_event(contact, timestamp=started_at + timedelta(minutes=1))
    evaluate_events([completed.pk])

    evaluate_events([started.pk])

    enrollment = CampaignEnrollment.objects.get()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        f"exit event {EXIT} (event {completed.pk})",
    )
    assert sms_bodies(contact) == []


@pytest.mark.parametrize(
    "evaluated_together", [False, True], ids=["exit-evaluated-first", "one-batch"]
)
def test_exit_event_before_the_trigger_does_not_exit(evaluated_together):
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    started_at = timezone.now() - timedelta(minutes=10)
    completed = exit_event(contact, timestamp=started_at - timedelta(minutes=1))
    started = trigger_event(contact, timestamp=started_at)
    if evaluated_together:
        evaluate_events([completed.pk, started.pk])
    else:
        evaluate_events([completed.pk])
        evaluate_events([started.pk])
    enrollment = CampaignEnrollment.objects.get()
    make_due(enrollment)

    run_due_steps()

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert sms_bodies(contact) == ["Finish it"]


def test_exit_event_of_another_contact_does_not_exit():
    make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    other = make_contact(sms_consent=True)

    evaluate_events([exit_event(other).pk])

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_evaluating_the_same_event_twice_enrolls_once():
    make_campaign()
    contact = make_contact(sms_consent=True)
    event = trigger_event(contact)
    evaluate_events([event.pk])

    enrolled = evaluate_events([event.pk])

    assert enrolled == 0
    assert CampaignEnrollment.objects.count() == 1


def test_contact_inside_a_campaign_is_not_enrolled_again():
    make_campaign()
    contact = make_contact(sms_consent=True)
    first = enroll(contact)

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 0
    assert list(CampaignEnrollment.objects.all()) == [first]


def test_contact_enrolls_again_after_finishing():
    make_campaign()
    contact = make_contact(sms_consent=True)
    first = enroll(contact)
    make_due(first)
    run_due_steps()

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 1
    assert CampaignEnrollment.objects.count() == 2


def test_running_an_enrollment_twice_queues_one_sms():
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    make_due(enrollment)
    run_enrollment(enrollment.pk)

    run_enrollment(enrollment.pk)

    assert sms_bodies(contact) == ["Finish it"]


def test_running_due_steps_twice_queues_one_sms():
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    make_due(enroll(contact))
    run_due_steps()

    due = run_due_steps()

    assert due == 0
    assert sms_bodies(contact) == ["Finish it"]


def test_rerun_of_an_sms_step_already_taken_queues_no_second_sms():
    # As if the step ran again from the start: the message key is what stops it.
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    make_due(enrollment)
    run_due_steps()
    sms_step = enrollment.campaign.steps.get(kind=StepKind.SEND_SMS)
    CampaignEnrollment.objects.filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.ACTIVE, step=sms_step, finished_at=None
    )
    make_due(enrollment)

    run_due_steps()

    assert sms_bodies(contact) == ["Finish it"]


def test_consent_revoked_before_the_send_skips_the_sms():
    make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    contact_services.set_consent(
        contact, channel="sms", subscribed=False, source="test"
    )
    make_due(enrollment)

    run_due_steps()

    assert sms_bodies(contact) == []
    assert list(enrollment.activities.values_list("action", flat=True)) == [
        "entered",
        "waiting",
        "skipped",
        "completed",
    ]
    assert enrollment.activities.get(action="skipped").detail == (
        "the contact opted out of SMS"
    )


def test_stopped_campaign_exits_the_enrollment_without_sending():
    campaign = make_campaign()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    campaign.status = CampaignStatus.STOPPED
    campaign.save()
    make_due(enrollment)

    due = run_due_steps()

    assert due == 1
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        "campaign stopped",
    )
    assert sms_bodies(contact) == []
