"""The campaign builder's rules (issue 3/5) as the engine applies them.

Quiet hours, frequency caps and consent; entry rules, exits and goals;
branches, splits and the steps that act on the world. The services are
called directly, as the q cluster's tasks would call them. Waiting is done by
moving `next_run_at` (or a delivery's `next_attempt_at`) into the past; where
the engine reads the clock itself, time-machine pins it around the call.
"""

import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import ProtectedError
from django.utils import timezone

from agents import services as agent_services
from agents.choices import CallTaskStatus, MessageStatus
from agents.models import CallTask, Message
from campaigns.choices import (
    CampaignStatus,
    ConditionRole,
    DeliveryStatus,
    EnrollmentStatus,
    StepKind,
)
from campaigns.conditions import Operator, Subject, ValueType
from campaigns.models import (
    Campaign,
    CampaignChange,
    CampaignCondition,
    CampaignEnrollment,
    CampaignExit,
    CampaignSplitAssignment,
    CampaignSplitVariant,
    CampaignStep,
    CampaignWebhookDelivery,
)
from campaigns.services import (
    ERROR_BACKOFF,
    MAX_STEP_ATTEMPTS,
    change_campaign_status,
    evaluate_events,
    pause_if_invalid,
    run_due_steps,
)
from campaigns.steps import pick_variant
from campaigns.webhooks import FIRST_BACKOFF, deliver_due_webhooks, deliver_webhook
from contacts import services as contact_services
from contacts.timezones import contact_zones
from tests.factories import make_campaign, make_contact, make_event

pytestmark = pytest.mark.django_db

TRIGGER = "Application Started"
EXIT = "Application Completed"
NEW_YORK = ZoneInfo("America/New_York")
TOLL_FREE = "+18005551234"
QUIET_HOURS = {"quiet_hours_start": time(9), "quiet_hours_end": time(20)}
PUBLIC_URL = "https://regal.example.com"


def new_york(year, month, day, hour, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def utc(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at(moment: datetime):
    """Pin the clock the engine reads to `moment` for the `with` block."""
    return time_machine.travel(moment, tick=False)


def make_bare_campaign(**overrides) -> Campaign:
    """A live campaign with no steps yet, no exits and no quiet hours."""
    fields = {
        "name": "Rules",
        "status": CampaignStatus.LIVE,
        "trigger_event": TRIGGER,
        "quiet_hours_start": time(0),
        "quiet_hours_end": time(0),
        **overrides,
    }
    return Campaign.objects.create(**fields)


def set_steps(campaign: Campaign, *steps: dict) -> list[CampaignStep]:
    """Replace the campaign's steps with these, each a dict of step fields."""
    campaign.steps.all().delete()
    return [
        CampaignStep.objects.create(campaign=campaign, **fields) for fields in steps
    ]


def add_condition(campaign: Campaign, role: str, **fields) -> CampaignCondition:
    return CampaignCondition.objects.create(campaign=campaign, role=role, **fields)


def trigger_event(contact, **overrides):
    return make_event(contact, name=TRIGGER, **overrides)


def enroll(contact, **event_fields) -> CampaignEnrollment:
    """Evaluate a new trigger event of the contact; return its enrollment."""
    evaluate_events([trigger_event(contact, **event_fields).pk])
    return CampaignEnrollment.objects.get(contact=contact)


def make_due(enrollment: CampaignEnrollment) -> None:
    CampaignEnrollment.objects.filter(pk=enrollment.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )


def rerun_step(enrollment: CampaignEnrollment, step: CampaignStep) -> None:
    """Put the enrollment back on `step` and run it again, as a rerun would."""
    CampaignEnrollment.objects.filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.ACTIVE,
        step=step,
        finished_at=None,
        next_run_at=timezone.now() - timedelta(seconds=1),
    )
    run_due_steps()


def sms_bodies(contact) -> list[str]:
    return list(
        Message.objects.filter(conversation__contact=contact).values_list(
            "body", flat=True
        )
    )


def activities(enrollment: CampaignEnrollment) -> list[tuple[str, str]]:
    return list(enrollment.activities.values_list("action", "detail"))


def activity(enrollment: CampaignEnrollment, action: str) -> str:
    return enrollment.activities.get(action=action).detail


def new_yorker(**fields):
    return make_contact(sms_consent=True, timezone="America/New_York", **fields)


@pytest.fixture
def twilio(twilio_standin, settings):
    """The Twilio stand-in, with Regal's settings pointing at it."""
    for name, value in twilio_standin.settings().items():
        setattr(settings, name, value)
    settings.PUBLIC_URL = PUBLIC_URL
    return twilio_standin


# Quiet hours -----------------------------------------------------------------


def test_sms_step_in_quiet_hours_is_deferred_to_09_00_local():
    make_campaign(wait=None, **QUIET_HOURS)
    contact = new_yorker()

    with at(new_york(2026, 1, 15, 2)):
        enrollment = enroll(contact)

    assert enrollment.next_run_at == new_york(2026, 1, 15, 9)
    assert enrollment.step.kind == StepKind.SEND_SMS
    assert activities(enrollment) == [
        ("entered", f"on event {enrollment.trigger_event_id} {TRIGGER}"),
        ("deferred", "quiet hours until 2026-01-15 14:00 UTC"),
    ]
    assert sms_bodies(contact) == []


@pytest.mark.parametrize(
    "hour", [pytest.param(10, id="10:00"), pytest.param(9, id="09:00-opening")]
)
def test_sms_step_inside_the_window_is_queued_until_it_closes_at_20_00_local(hour):
    make_campaign(wait=None, body="Finish it", **QUIET_HOURS)
    contact = new_yorker()

    with at(new_york(2026, 1, 15, hour)):
        enroll(contact)

    message = Message.objects.get()
    assert (message.body, message.send_before) == (
        "Finish it",
        new_york(2026, 1, 15, 20),
    )


def test_deferred_sms_step_is_queued_when_the_window_opens():
    make_campaign(wait=None, body="Finish it", **QUIET_HOURS)
    contact = new_yorker()
    with at(new_york(2026, 1, 15, 2)):
        enrollment = enroll(contact)

    with at(new_york(2026, 1, 15, 9)):
        due = run_due_steps()

    message = Message.objects.get()
    assert due == 1
    assert (message.body, message.send_before) == (
        "Finish it",
        new_york(2026, 1, 15, 20),
    )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED


@pytest.mark.parametrize(
    ("evening", "opening"),
    [
        # 09:00 EDT, the clocks having gone forward at 02:00 that night.
        pytest.param(
            new_york(2026, 3, 7, 23), utc(2026, 3, 8, 13), id="spring-forward"
        ),
        # 09:00 EST, the clocks having gone back at 02:00 that night.
        pytest.param(new_york(2026, 10, 31, 23), utc(2026, 11, 1, 14), id="fall-back"),
    ],
)
def test_sms_step_deferred_over_a_clock_change_waits_for_09_00_local(evening, opening):
    make_campaign(wait=None, **QUIET_HOURS)
    contact = new_yorker()

    with at(evening):
        enrollment = enroll(contact)

    assert enrollment.next_run_at == opening
    assert enrollment.next_run_at.astimezone(NEW_YORK).hour == 9
    assert sms_bodies(contact) == []


def test_sms_step_to_a_toll_free_number_waits_for_hours_allowed_in_all_its_zones():
    # A toll-free number is held to every US and Canadian zone: in January
    # only 19:00Z (09:00 in Honolulu) to 23:30Z (20:00 in St John's) is
    # inside 09:00-20:00 in all of them.
    make_campaign(wait=None, **QUIET_HOURS)
    contact = make_contact(sms_consent=True, phone=TOLL_FREE)

    with at(utc(2026, 1, 15, 12)):
        enrollment = enroll(contact)

    assert enrollment.next_run_at == utc(2026, 1, 15, 19)
    assert activity(enrollment, "deferred") == "quiet hours until 2026-01-15 19:00 UTC"
    assert sms_bodies(contact) == []


def test_sms_step_to_a_toll_free_number_with_no_common_hour_is_skipped():
    # 09:00-10:00 in New York is over before it begins in Los Angeles.
    make_campaign(wait=None, quiet_hours_start=time(9), quiet_hours_end=time(10))
    contact = make_contact(sms_consent=True, phone=TOLL_FREE)
    zones = ", ".join(zone.key for zone in contact_zones(contact))

    with at(utc(2026, 6, 15, 12)):
        enrollment = enroll(contact)

    assert activity(enrollment, "skipped") == (
        "No time in the 14 days after 2026-06-15 12:00Z is inside 09:00-10:00 "
        f"every day in all of {zones}."
    )
    assert sms_bodies(contact) == []
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED


# The SMS window at send time -------------------------------------------------


def queue_campaign_sms_at_10_00_local() -> Message:
    make_campaign(wait=None, body="Finish it", **QUIET_HOURS)
    with at(new_york(2026, 1, 15, 10)):
        enroll(new_yorker())
    return Message.objects.get()


@pytest.mark.parametrize(
    "send_at",
    [
        pytest.param(new_york(2026, 1, 15, 20), id="at-20:00"),
        pytest.param(new_york(2026, 1, 15, 23), id="at-23:00"),
    ],
)
def test_campaign_sms_sent_after_its_window_closed_is_blocked(twilio, send_at):
    message = queue_campaign_sms_at_10_00_local()

    with at(send_at):
        agent_services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert (message.status, message.error, message.twilio_sid) == (
        MessageStatus.BLOCKED,
        "the contact's quiet hours began before it could be sent",
        None,
    )
    assert twilio.requests == []


@pytest.mark.parametrize(
    ("send_at", "validity"),
    [
        pytest.param(new_york(2026, 1, 15, 18, 30), "5400", id="90-minutes-left"),
        pytest.param(new_york(2026, 1, 15, 19, 59, 59), "1", id="1-second-left"),
        # Twilio takes at most 36000 seconds.
        pytest.param(new_york(2026, 1, 15, 9, 30), "36000", id="10.5-hours-left"),
    ],
)
def test_campaign_sms_tells_twilio_the_seconds_left_in_its_window(
    twilio, send_at, validity
):
    message = queue_campaign_sms_at_10_00_local()

    with at(send_at):
        agent_services.send_pending_sms(message.pk)

    assert [sent.params["ValidityPeriod"] for sent in twilio.messages] == [validity]


# Frequency caps ---------------------------------------------------------------


def queue_earlier_sms(contact, count: int) -> None:
    """Texts the contact got from elsewhere (another campaign, an agent)."""
    for number in range(count):
        agent_services.queue_sms(
            contact,
            body=f"earlier {number}",
            idempotency_key=f"test:earlier:{contact.pk}:{number}",
        )


def test_sms_over_the_default_frequency_cap_is_skipped(settings):
    settings.REGAL_SMS_CAP = (2, 24)
    make_campaign(wait=None, body="Finish it")
    contact = make_contact(sms_consent=True)
    queue_earlier_sms(contact, 2)

    enrollment = enroll(contact)

    assert activity(enrollment, "skipped") == (
        "frequency cap: 2 SMS in the last 1 day, 0:00:00"
    )
    assert sms_bodies(contact) == ["earlier 0", "earlier 1"]


def test_sms_up_to_the_default_frequency_cap_is_queued(settings):
    settings.REGAL_SMS_CAP = (2, 24)
    make_campaign(wait=None, body="Finish it")
    contact = make_contact(sms_consent=True)
    queue_earlier_sms(contact, 1)

    enroll(contact)

    assert sms_bodies(contact) == ["earlier 0", "Finish it"]


def test_campaign_frequency_cap_overrides_the_default(settings):
    settings.REGAL_SMS_CAP = (5, 24)
    make_campaign(
        wait=None,
        body="Finish it",
        sms_cap_count=1,
        sms_cap_period=timedelta(hours=1),
    )
    contact = make_contact(sms_consent=True)
    queue_earlier_sms(contact, 1)

    enrollment = enroll(contact)

    assert activity(enrollment, "skipped") == "frequency cap: 1 SMS in the last 1:00:00"
    assert sms_bodies(contact) == ["earlier 0"]


def test_sms_older_than_the_cap_period_does_not_count(settings):
    make_campaign(
        wait=None,
        body="Finish it",
        sms_cap_count=1,
        sms_cap_period=timedelta(hours=1),
    )
    contact = make_contact(sms_consent=True)
    queue_earlier_sms(contact, 1)
    Message.objects.update(created_at=timezone.now() - timedelta(hours=1, seconds=1))

    enroll(contact)

    assert sms_bodies(contact) == ["earlier 0", "Finish it"]


# Transactional campaigns --------------------------------------------------------


def test_transactional_campaign_texts_a_contact_without_sms_consent(twilio):
    make_campaign(wait=None, body="Your appointment is at 3pm", is_transactional=True)
    contact = make_contact()
    enroll(contact)
    message = Message.objects.get()

    agent_services.send_pending_sms(message.pk)

    assert message.requires_consent is False
    assert [sent.params["Body"] for sent in twilio.messages] == [
        "Your appointment is at 3pm"
    ]


def test_transactional_campaign_does_not_text_a_contact_who_said_stop(twilio):
    make_campaign(wait=None, body="Your appointment is at 3pm", is_transactional=True)
    contact = make_contact(sms_consent=False)

    enrollment = enroll(contact)

    assert not Message.objects.exists()
    assert twilio.messages == []
    assert enrollment.activities.get(action="skipped").detail == (
        "the contact opted out of SMS"
    )


def test_transactional_sms_queued_before_a_stop_is_not_sent(twilio):
    make_campaign(wait=None, body="Your appointment is at 3pm", is_transactional=True)
    contact = make_contact()
    enroll(contact)
    message = Message.objects.get()
    contact_services.set_consent(contact, channel="sms", subscribed=False, source="t")

    agent_services.send_pending_sms(message.pk)

    message.refresh_from_db()
    assert (message.status, message.error) == (
        "blocked",
        "the contact opted out of SMS",
    )
    assert twilio.messages == []


def test_sms_step_whose_text_renders_empty_is_skipped_with_the_reason():
    make_campaign(wait=None, body="{{ contact.first_name }}")
    contact = make_contact(sms_consent=True)

    enrollment = enroll(contact)

    assert not Message.objects.exists()
    assert enrollment.activities.get(action="skipped").detail == (
        "the text is empty for this contact"
    )


def test_marketing_campaign_sms_requires_consent_when_it_is_sent():
    make_campaign(wait=None, body="Finish it")
    contact = make_contact(sms_consent=True)

    enroll(contact)

    assert Message.objects.get().requires_consent is True


# Entry rules --------------------------------------------------------------------


def finish_first_entry(contact) -> CampaignEnrollment:
    first = enroll(contact)
    make_due(first)
    run_due_steps()
    return first


@pytest.mark.parametrize(
    ("max_entries", "enrolled"),
    [pytest.param(1, 0, id="at-the-limit"), pytest.param(2, 1, id="under-the-limit")],
)
def test_max_entries_limits_how_often_a_contact_enters(max_entries, enrolled):
    make_campaign(max_entries=max_entries)
    contact = make_contact(sms_consent=True)
    finish_first_entry(contact)

    result = evaluate_events([trigger_event(contact).pk])

    assert result == enrolled
    assert CampaignEnrollment.objects.count() == 1 + enrolled


def test_cooldown_refuses_an_entry_within_it():
    make_campaign(cooldown=timedelta(days=1))
    contact = make_contact(sms_consent=True)
    finish_first_entry(contact)

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 0
    assert CampaignEnrollment.objects.count() == 1


def test_cooldown_allows_an_entry_after_it():
    make_campaign(cooldown=timedelta(days=1))
    contact = make_contact(sms_consent=True)
    first = finish_first_entry(contact)
    CampaignEnrollment.objects.filter(pk=first.pk).update(
        entered_at=timezone.now() - timedelta(days=1, seconds=1)
    )

    enrolled = evaluate_events([trigger_event(contact).pk])

    assert enrolled == 1
    assert CampaignEnrollment.objects.count() == 2


def add_trigger_conditions(campaign: Campaign) -> None:
    """(event plan is gold AND event amount > 1000) OR contact vip is true."""
    add_condition(
        campaign,
        ConditionRole.TRIGGER,
        group=1,
        subject=Subject.EVENT,
        key="plan",
        operator=Operator.EQUALS,
        value="gold",
    )
    add_condition(
        campaign,
        ConditionRole.TRIGGER,
        group=1,
        subject=Subject.EVENT,
        key="amount",
        operator=Operator.GREATER_THAN,
        value="1000",
        value_type=ValueType.NUMBER,
    )
    add_condition(
        campaign,
        ConditionRole.TRIGGER,
        group=2,
        subject=Subject.CONTACT,
        key="vip",
        operator=Operator.EQUALS,
        value="true",
        value_type=ValueType.BOOLEAN,
    )


@pytest.mark.parametrize(
    ("event_properties", "contact_properties", "enrolled"),
    [
        pytest.param({"plan": "gold", "amount": 5000}, {}, 1, id="first-group-holds"),
        pytest.param({"plan": "gold", "amount": 500}, {}, 0, id="half-a-group-holds"),
        pytest.param(
            {"plan": "silver"}, {"vip": True}, 1, id="second-group-holds-on-contact"
        ),
        pytest.param(
            {"plan": "silver", "amount": 5000}, {"vip": False}, 0, id="no-group-holds"
        ),
    ],
)
def test_trigger_conditions_enroll_when_any_group_holds_in_full(
    event_properties, contact_properties, enrolled
):
    add_trigger_conditions(make_campaign())
    contact = make_contact(sms_consent=True, properties=contact_properties)

    result = evaluate_events([trigger_event(contact, properties=event_properties).pk])

    assert result == enrolled
    assert CampaignEnrollment.objects.count() == enrolled


# Exits --------------------------------------------------------------------------


def make_campaign_exiting_on_approval(**overrides) -> Campaign:
    """Wait, then text; exit on "Application Completed" with status approved."""
    campaign = make_campaign(body="Finish it", exit_event=None, **overrides)
    exit_rule = CampaignExit.objects.create(campaign=campaign, event_name=EXIT)
    add_condition(
        campaign,
        ConditionRole.EXIT,
        exit=exit_rule,
        subject=Subject.EVENT,
        key="status",
        operator=Operator.EQUALS,
        value="approved",
    )
    return campaign


@pytest.mark.parametrize(
    "evaluated", [True, False], ids=["exit-evaluated", "exit-found-by-the-step"]
)
def test_exit_whose_conditions_fail_does_not_exit(evaluated):
    make_campaign_exiting_on_approval()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    declined = make_event(
        contact,
        name=EXIT,
        properties={"status": "declined"},
        timestamp=timezone.now() + timedelta(minutes=1),
    )
    if evaluated:
        evaluate_events([declined.pk])
    make_due(enrollment)

    run_due_steps()

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert sms_bodies(contact) == ["Finish it"]


@pytest.mark.parametrize(
    "evaluated", [True, False], ids=["exit-evaluated", "exit-found-by-the-step"]
)
def test_exit_whose_conditions_hold_exits_and_nothing_is_sent(evaluated):
    make_campaign_exiting_on_approval()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    approved = make_event(
        contact,
        name=EXIT,
        properties={"status": "approved"},
        timestamp=timezone.now() + timedelta(minutes=1),
    )
    if evaluated:
        evaluate_events([approved.pk])
    make_due(enrollment)

    run_due_steps()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        f"exit event {EXIT} (event {approved.pk})",
    )
    assert sms_bodies(contact) == []


def make_campaign_calling_first(**overrides) -> Campaign:
    """Open a call task, wait a day, text; exit on "Application Completed"."""
    campaign = make_campaign(wait=None, body="Finish it", **overrides)
    set_steps(
        campaign,
        {"position": 0, "kind": StepKind.CREATE_TASK, "task_notes": "Call them"},
        {"position": 1, "kind": StepKind.WAIT, "wait": timedelta(days=1)},
        {"position": 2, "kind": StepKind.SEND_SMS, "body": "Finish it"},
    )
    return campaign


def test_exit_cancels_the_open_call_tasks_the_campaign_opened():
    make_campaign_calling_first()
    contact = make_contact(sms_consent=True, voice_consent=True)
    enrollment = enroll(contact)
    completed = make_event(
        contact, name=EXIT, timestamp=timezone.now() + timedelta(minutes=1)
    )

    evaluate_events([completed.pk])

    task = CallTask.objects.get()
    reason = f"exit event {EXIT} (event {completed.pk})"
    assert (task.status, task.cancel_reason) == (
        CallTaskStatus.CANCELLED,
        f"enrollment exited: {reason}",
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        reason,
    )
    assert activity(enrollment, "tasks_cancelled") == "1 open task(s)"


def test_exit_leaves_other_campaigns_call_tasks_open():
    campaign = make_campaign_calling_first()
    contact = make_contact(sms_consent=True)
    enroll(contact)
    other = agent_services.open_call_task(
        contact,
        idempotency_key="test:other",
        opener_key=f"campaign:{campaign.pk + 1000}",
        opened_by="another campaign",
    )

    evaluate_events(
        [
            make_event(
                contact, name=EXIT, timestamp=timezone.now() + timedelta(minutes=1)
            ).pk
        ]
    )

    other.refresh_from_db()
    assert other.status == CallTaskStatus.OPEN


# Goals --------------------------------------------------------------------------

GOAL = "Loan Funded"


def make_campaign_with_goal(**overrides) -> Campaign:
    return make_campaign(
        goal_event=GOAL,
        goal_window=timedelta(days=7),
        goal_revenue_property="amount",
        **overrides,
    )


def test_goal_event_within_the_window_converts_with_its_revenue():
    make_campaign_with_goal()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    funded = make_event(
        contact,
        name=GOAL,
        properties={"amount": "1500.50"},
        timestamp=enrollment.entered_at + timedelta(days=2),
    )

    evaluate_events([funded.pk])

    enrollment.refresh_from_db()
    detail = f"goal event {GOAL} (event {funded.pk}), revenue 1500.50"
    assert (
        enrollment.status,
        enrollment.converted_at,
        enrollment.revenue,
        enrollment.exit_reason,
    ) == (EnrollmentStatus.CONVERTED, funded.timestamp, Decimal("1500.50"), detail)


@pytest.mark.parametrize(
    "after_entry",
    [
        pytest.param(timedelta(days=7, seconds=1), id="after-the-window"),
        pytest.param(timedelta(seconds=-1), id="before-entry"),
    ],
)
def test_goal_event_outside_the_window_does_not_convert(after_entry):
    make_campaign_with_goal()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    funded = make_event(
        contact,
        name=GOAL,
        properties={"amount": 1500},
        timestamp=enrollment.entered_at + after_entry,
    )

    evaluate_events([funded.pk])

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.converted_at, enrollment.revenue) == (
        EnrollmentStatus.ACTIVE,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("properties", "revenue"),
    [
        pytest.param({"amount": 1500}, Decimal("1500.00"), id="number"),
        pytest.param({"amount": "n/a"}, None, id="not-a-number"),
        pytest.param({}, None, id="missing"),
    ],
)
def test_goal_revenue_is_read_from_the_goal_property(properties, revenue):
    make_campaign_with_goal()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)

    evaluate_events([make_event(contact, name=GOAL, properties=properties).pk])

    enrollment.refresh_from_db()
    assert enrollment.revenue == revenue


def test_goal_event_after_the_enrollment_completed_converts_it_keeping_its_status():
    make_campaign_with_goal(wait=None)
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    funded = make_event(contact, name=GOAL, properties={"amount": 900})

    evaluate_events([funded.pk])

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.converted_at, enrollment.revenue) == (
        EnrollmentStatus.COMPLETED,
        funded.timestamp,
        Decimal("900.00"),
    )
    assert activity(enrollment, "converted") == (
        f"goal event {GOAL} (event {funded.pk}), revenue 900"
    )


# Branch -------------------------------------------------------------------------


def make_branching_campaign(**branch_fields) -> Campaign:
    """0 branch (true: 10, else: 20); 10 "gold offer", 11 end; 20 "standard"."""
    campaign = make_bare_campaign()
    set_steps(
        campaign,
        {
            "position": 0,
            "kind": StepKind.BRANCH,
            "goto_position": 10,
            "else_position": 20,
            **branch_fields,
        },
        {"position": 10, "kind": StepKind.SEND_SMS, "body": "gold offer"},
        {"position": 11, "kind": StepKind.END},
        {"position": 20, "kind": StepKind.SEND_SMS, "body": "standard offer"},
    )
    return campaign


@pytest.mark.parametrize(
    ("subject", "contact_properties", "event_properties", "sent"),
    [
        pytest.param(
            Subject.CONTACT, {"plan": "gold"}, {}, "gold offer", id="contact-true"
        ),
        pytest.param(
            Subject.CONTACT,
            {"plan": "silver"},
            {},
            "standard offer",
            id="contact-false",
        ),
        pytest.param(
            Subject.EVENT, {}, {"plan": "gold"}, "gold offer", id="event-true"
        ),
        pytest.param(
            Subject.EVENT, {}, {"plan": "silver"}, "standard offer", id="event-false"
        ),
    ],
)
def test_branch_on_conditions_goes_to_its_true_or_else_position(
    subject, contact_properties, event_properties, sent
):
    campaign = make_branching_campaign()
    add_condition(
        campaign,
        ConditionRole.BRANCH,
        step=campaign.steps.get(position=0),
        subject=subject,
        key="plan",
        operator=Operator.EQUALS,
        value="gold",
    )
    contact = make_contact(sms_consent=True, properties=contact_properties)

    enroll(contact, properties=event_properties)

    assert sms_bodies(contact) == [sent]


def test_branch_to_an_end_step_ends_the_enrollment():
    campaign = make_branching_campaign()
    CampaignStep.objects.filter(campaign=campaign, position=0).update(goto_position=11)
    contact = make_contact(sms_consent=True)

    enrollment = enroll(contact)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason, enrollment.step) == (
        EnrollmentStatus.COMPLETED,
        "end step",
        None,
    )
    assert sms_bodies(contact) == []


def make_campaign_branching_on_upload() -> Campaign:
    """Wait an hour, then: uploaded a document since entry? thank : remind."""
    campaign = make_bare_campaign()
    set_steps(
        campaign,
        {"position": 0, "kind": StepKind.WAIT, "wait": timedelta(hours=1)},
        {
            "position": 1,
            "kind": StepKind.BRANCH,
            "branch_event": "Document Uploaded",
            "goto_position": 10,
            "else_position": 20,
        },
        {"position": 10, "kind": StepKind.SEND_SMS, "body": "thanks"},
        {"position": 11, "kind": StepKind.END},
        {"position": 20, "kind": StepKind.SEND_SMS, "body": "please upload"},
    )
    return campaign


@pytest.mark.parametrize(
    ("uploaded_after_entry", "sent"),
    [
        pytest.param(timedelta(minutes=5), "thanks", id="since-entry"),
        pytest.param(timedelta(minutes=-5), "please upload", id="before-entry"),
        pytest.param(None, "please upload", id="never"),
    ],
)
def test_branch_on_an_event_since_entry(uploaded_after_entry, sent):
    make_campaign_branching_on_upload()
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    if uploaded_after_entry is not None:
        make_event(
            contact,
            name="Document Uploaded",
            timestamp=enrollment.entered_at + uploaded_after_entry,
        )
    make_due(enrollment)

    run_due_steps()

    assert sms_bodies(contact) == [sent]


# Split --------------------------------------------------------------------------


def test_pick_variant_shares_over_10000_contacts_are_within_1_5_points():
    # At 10,000 contacts one standard deviation of a 45% share is 0.5 points:
    # 1.5 points is three. The hash is deterministic, so this never flakes.
    step = SimpleNamespace(pk=7)
    variants = [
        SimpleNamespace(label="A", percent=45),
        SimpleNamespace(label="B", percent=45),
        SimpleNamespace(label="holdout", percent=10),
    ]

    picked = Counter(
        pick_variant(SimpleNamespace(contact_id=contact_id), step, variants).label
        for contact_id in range(1, 10_001)
    )

    shares = {label: count / 100 for label, count in picked.items()}
    assert set(shares) == {"A", "B", "holdout"}
    for variant in variants:
        assert abs(shares[variant.label] - variant.percent) <= 1.5, shares


def test_pick_variant_gives_a_contact_the_same_variant_each_time():
    step = SimpleNamespace(pk=7)
    variants = [
        SimpleNamespace(label="A", percent=50),
        SimpleNamespace(label="B", percent=50),
    ]
    enrollment = SimpleNamespace(contact_id=42)

    picks = {pick_variant(enrollment, step, variants).label for _ in range(20)}

    assert len(picks) == 1


def make_split_campaign(*variants: dict) -> Campaign:
    """0 split; 10 "offer A", 11 end; 20 "offer B"."""
    campaign = make_bare_campaign()
    split, *_ = set_steps(
        campaign,
        {"position": 0, "kind": StepKind.SPLIT},
        {"position": 10, "kind": StepKind.SEND_SMS, "body": "offer A"},
        {"position": 11, "kind": StepKind.END},
        {"position": 20, "kind": StepKind.SEND_SMS, "body": "offer B"},
    )
    for fields in variants:
        CampaignSplitVariant.objects.create(step=split, **fields)
    return campaign


def test_split_sends_the_contact_down_its_variants_path():
    make_split_campaign(
        {"label": "A", "percent": 0, "goto_position": 10},
        {"label": "B", "percent": 100, "goto_position": 20},
    )
    contact = make_contact(sms_consent=True)

    enrollment = enroll(contact)

    assert sms_bodies(contact) == ["offer B"]
    assignment = CampaignSplitAssignment.objects.get()
    assert (assignment.enrollment, assignment.variant.label) == (enrollment, "B")


def test_split_run_twice_keeps_the_first_assignment():
    campaign = make_split_campaign(
        {"label": "A", "percent": 100, "goto_position": 10},
        {"label": "B", "percent": 0, "goto_position": 20},
    )
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    split = campaign.steps.get(kind=StepKind.SPLIT)
    split.variants.filter(label="A").update(percent=0)
    split.variants.filter(label="B").update(percent=100)

    rerun_step(enrollment, split)

    assert list(
        CampaignSplitAssignment.objects.values_list("variant__label", flat=True)
    ) == ["A"]
    assert list(
        enrollment.activities.filter(action="split").values_list("detail", flat=True)
    ) == ["variant A", "variant A"]


def test_split_holdout_gets_nothing_more():
    make_split_campaign(
        {"label": "A", "percent": 0, "goto_position": 10},
        {"label": "control", "percent": 100, "is_holdout": True},
    )
    contact = make_contact(sms_consent=True)

    enrollment = enroll(contact)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.COMPLETED,
        "holdout control",
    )
    assert sms_bodies(contact) == []


# Call tasks and contact updates ------------------------------------------------


def test_create_task_step_opens_the_rendered_task():
    campaign = make_bare_campaign(name="Unfinished application")
    set_steps(
        campaign,
        {
            "position": 0,
            "kind": StepKind.CREATE_TASK,
            "task_priority": "high",
            "task_notes": "Call {{ contact.first_name }} about {{ event.name }}",
            "task_script": "Hi {{ contact.first_name }}",
        },
    )
    contact = make_contact(sms_consent=True, voice_consent=True, first_name="Ada")

    enroll(contact)

    task = CallTask.objects.get()
    assert (
        task.contact,
        task.status,
        task.priority,
        task.notes,
        task.script,
        task.opener_key,
        task.opened_by,
    ) == (
        contact,
        CallTaskStatus.OPEN,
        "high",
        f"Call Ada about {TRIGGER}",
        "Hi Ada",
        f"campaign:{campaign.pk}",
        f"campaign {campaign.pk} (Unfinished application)",
    )


@pytest.mark.parametrize(
    ("voice_consent", "reason"),
    [(None, "no voice consent"), (False, "the contact opted out of calls")],
    ids=["never-asked", "opted-out"],
)
def test_create_task_step_without_voice_consent_opens_no_task(voice_consent, reason):
    campaign = make_campaign(wait=None, body="Finish it")
    set_steps(campaign, {"position": 0, "kind": StepKind.CREATE_TASK})
    contact = make_contact(sms_consent=True, voice_consent=voice_consent)

    enrollment = enroll(contact)

    assert not CallTask.objects.exists()
    assert activity(enrollment, "skipped") == reason


def test_create_task_step_run_twice_opens_one_task():
    campaign = make_campaign_calling_first()
    contact = make_contact(sms_consent=True, voice_consent=True)
    enrollment = enroll(contact)
    first = CallTask.objects.get()

    rerun_step(enrollment, campaign.steps.get(kind=StepKind.CREATE_TASK))

    assert list(CallTask.objects.all()) == [first]


def test_cancel_tasks_step_cancels_the_campaigns_open_tasks():
    campaign = make_bare_campaign()
    set_steps(
        campaign,
        {"position": 0, "kind": StepKind.CREATE_TASK},
        {"position": 1, "kind": StepKind.CANCEL_TASKS},
    )
    contact = make_contact(sms_consent=True, voice_consent=True)

    enrollment = enroll(contact)

    task = CallTask.objects.get()
    assert (task.status, task.cancel_reason) == (
        CallTaskStatus.CANCELLED,
        f"cancel step of campaign {campaign.pk}",
    )
    assert activity(enrollment, "tasks_cancelled") == "1 open task(s)"


def test_update_contact_step_sets_rendered_properties_and_keeps_the_others():
    campaign = make_bare_campaign()
    set_steps(
        campaign,
        {
            "position": 0,
            "kind": StepKind.UPDATE_CONTACT,
            "updates": {
                "stage": "nudged",
                "greeting": "Hi {{ contact.first_name }}",
                "plan": "{{ event.properties.plan }}",
                "nudges": 1,
            },
        },
    )
    contact = make_contact(
        sms_consent=True, first_name="Ada", properties={"source": "ads", "nudges": 0}
    )

    enroll(contact, properties={"plan": "gold"})

    contact.refresh_from_db()
    assert contact.properties == {
        "source": "ads",
        "stage": "nudged",
        "greeting": "Hi Ada",
        "plan": "gold",
        "nudges": 1,
    }


# Webhooks -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedPost:
    path: str
    content_type: str
    body: str


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers as told."""

    def __init__(self):
        self.posts: list[ReceivedPost] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.posts.append(
                        ReceivedPost(self.path, self.headers["Content-Type"], body)
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                answer = f"answer {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def make_webhook_campaign(url: str) -> Campaign:
    campaign = make_bare_campaign()
    set_steps(
        campaign,
        {
            "position": 0,
            "kind": StepKind.WEBHOOK,
            "webhook_url": url,
            "webhook_payload": (
                '{"phone": "{{ contact.phone }}", '
                '"plan": "{{ event.properties.plan }}"}'
            ),
        },
    )
    return campaign


def test_webhook_step_posts_the_rendered_json_once(receiver):
    make_webhook_campaign(f"{receiver.url}/hooks/regal")
    contact = make_contact(sms_consent=True)
    enroll(contact, properties={"plan": "gold"})
    deliver_due_webhooks()

    deliver_due_webhooks()

    assert receiver.posts == [
        ReceivedPost(
            "/hooks/regal",
            "application/json",
            json.dumps({"phone": contact.phone, "plan": "gold"}),
        )
    ]
    delivery = CampaignWebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )


def test_webhook_step_run_twice_queues_one_delivery(receiver):
    campaign = make_webhook_campaign(f"{receiver.url}/hooks/regal")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    first = CampaignWebhookDelivery.objects.get()

    rerun_step(enrollment, campaign.steps.get())

    assert list(CampaignWebhookDelivery.objects.all()) == [first]


def webhook_delivery(url: str) -> CampaignWebhookDelivery:
    make_webhook_campaign(url)
    enroll(make_contact(sms_consent=True))
    return CampaignWebhookDelivery.objects.get()


def test_webhook_answered_500_is_retried_after_a_backoff(receiver):
    receiver.answers = [500]
    moment = utc(2026, 1, 15, 12)
    with at(moment):
        delivery = webhook_delivery(f"{receiver.url}/hooks/regal")

        delivered = deliver_webhook(delivery.pk)

    assert (
        delivered.status,
        delivered.attempts,
        delivered.next_attempt_at,
        delivered.response_status,
        delivered.response_body,
    ) == (DeliveryStatus.PENDING, 1, moment + FIRST_BACKOFF, 500, "answer 500")


def test_webhook_retried_after_a_500_records_the_answer(receiver):
    receiver.answers = [500, 200]
    delivery = webhook_delivery(f"{receiver.url}/hooks/regal")
    deliver_webhook(delivery.pk)
    CampaignWebhookDelivery.objects.update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    delivered = deliver_webhook(delivery.pk)

    assert (
        delivered.status,
        delivered.attempts,
        delivered.response_status,
        delivered.response_body,
    ) == (DeliveryStatus.DELIVERED, 2, 200, "answer 200")
    assert len(receiver.posts) == 2


def test_webhook_not_yet_due_for_its_retry_is_not_posted(receiver):
    receiver.answers = [500]
    delivery = webhook_delivery(f"{receiver.url}/hooks/regal")
    deliver_webhook(delivery.pk)

    result = deliver_webhook(delivery.pk)

    assert result is None
    assert len(receiver.posts) == 1


def test_webhook_answered_400_fails_without_a_retry(receiver):
    receiver.answers = [400]
    delivery = webhook_delivery(f"{receiver.url}/hooks/regal")
    failed = deliver_webhook(delivery.pk)
    CampaignWebhookDelivery.objects.update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    retried = deliver_webhook(delivery.pk)

    assert retried is None
    assert (failed.status, failed.attempts, failed.response_status) == (
        DeliveryStatus.FAILED,
        1,
        400,
    )
    assert len(receiver.posts) == 1


# Pause, resume, stop ----------------------------------------------------------


def test_paused_campaigns_due_enrollment_is_not_run():
    campaign = make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    change_campaign_status(campaign, CampaignStatus.PAUSED, changed_by="admin")
    make_due(enrollment)

    due = run_due_steps()

    assert due == 0
    assert sms_bodies(contact) == []
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.step.kind) == (
        EnrollmentStatus.ACTIVE,
        StepKind.SEND_SMS,
    )


def test_resumed_campaign_runs_the_enrollment_it_held():
    campaign = make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    change_campaign_status(campaign, CampaignStatus.PAUSED, changed_by="admin")
    make_due(enrollment)
    run_due_steps()

    change_campaign_status(campaign, CampaignStatus.LIVE, changed_by="admin")
    due = run_due_steps()

    assert due == 1
    assert sms_bodies(contact) == ["Finish it"]


def test_stopping_a_campaign_exits_every_active_enrollment_at_once():
    campaign = make_campaign()
    enrollments = [enroll(make_contact(sms_consent=True)) for _ in range(2)]

    change_campaign_status(campaign, CampaignStatus.STOPPED, changed_by="admin")

    assert sorted(
        CampaignEnrollment.objects.values_list(
            "pk", "status", "exit_reason", "next_run_at"
        )
    ) == [
        (enrollment.pk, EnrollmentStatus.EXITED, "campaign stopped", None)
        for enrollment in enrollments
    ]
    assert Message.objects.count() == 0


def test_stopping_a_campaign_cancels_the_call_tasks_it_opened():
    campaign = make_campaign_calling_first()
    enroll(make_contact(sms_consent=True, voice_consent=True))

    change_campaign_status(campaign, CampaignStatus.STOPPED, changed_by="admin")

    task = CallTask.objects.get()
    assert (task.status, task.cancel_reason) == (
        CallTaskStatus.CANCELLED,
        "enrollment exited: campaign stopped",
    )


def test_change_campaign_status_records_who_changed_what():
    campaign = make_campaign()

    change_campaign_status(campaign, CampaignStatus.PAUSED, changed_by="ada")

    assert list(
        CampaignChange.objects.values_list(
            "changed_by", "field", "old_value", "new_value"
        )
    ) == [("ada", "status", CampaignStatus.LIVE, CampaignStatus.PAUSED)]


# Editing a live campaign ---------------------------------------------------------


def test_deleting_the_step_an_active_enrollment_is_on_is_refused():
    campaign = make_campaign()
    enrollment = enroll(make_contact(sms_consent=True))
    sms_step = campaign.steps.get(kind=StepKind.SEND_SMS)

    with pytest.raises(ProtectedError):
        sms_step.delete()

    assert CampaignStep.objects.filter(pk=sms_step.pk).exists()
    enrollment.refresh_from_db()
    assert enrollment.step == sms_step


def test_deleting_a_step_no_active_enrollment_is_on_is_allowed():
    campaign = make_campaign()
    enrollment = enroll(make_contact(sms_consent=True))
    make_due(enrollment)
    run_due_steps()
    sms_step = campaign.steps.get(kind=StepKind.SEND_SMS)

    sms_step.delete()

    assert not CampaignStep.objects.filter(pk=sms_step.pk).exists()


def test_changed_sms_text_applies_to_enrollments_that_reach_it_later():
    campaign = make_campaign(body="Old text")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    campaign.steps.filter(kind=StepKind.SEND_SMS).update(body="New text")
    make_due(enrollment)

    run_due_steps()

    assert sms_bodies(contact) == ["New text"]


# Steps that fail ------------------------------------------------------------------

BROKEN_TEMPLATE_ERROR = (
    "InvalidTemplateError: the template does not compile: "
    "Unexpected end of expression in if tag."
)


def enroll_in_campaign_with_broken_sms() -> CampaignEnrollment:
    """A campaign whose SMS text no longer compiles (saved past validation)."""
    make_campaign(body="{% if %}Hi{% endif %}")
    return enroll(make_contact(sms_consent=True))


def test_failing_step_is_retried_after_the_backoff():
    enrollment = enroll_in_campaign_with_broken_sms()
    moment = utc(2026, 1, 15, 12)

    with at(moment):
        make_due(enrollment)
        run_due_steps()

    enrollment.refresh_from_db()
    assert (
        enrollment.status,
        enrollment.step.kind,
        enrollment.attempts,
        enrollment.next_run_at,
    ) == (EnrollmentStatus.ACTIVE, StepKind.SEND_SMS, 1, moment + ERROR_BACKOFF)
    assert activity(enrollment, "step_failed") == (
        f"attempt 1: {BROKEN_TEMPLATE_ERROR}; retrying at 2026-01-15 12:05 UTC"
    )
    assert Message.objects.count() == 0


def test_failing_step_ends_the_enrollment_after_max_attempts():
    enrollment = enroll_in_campaign_with_broken_sms()

    for _ in range(MAX_STEP_ATTEMPTS):
        make_due(enrollment)
        run_due_steps()

    enrollment.refresh_from_db()
    reason = (
        f"step 1. Send SMS failed {MAX_STEP_ATTEMPTS} times: {BROKEN_TEMPLATE_ERROR}"
    )
    assert (enrollment.status, enrollment.exit_reason, enrollment.next_run_at) == (
        EnrollmentStatus.EXITED,
        reason,
        None,
    )
    assert activities(enrollment)[-1] == (EnrollmentStatus.EXITED, reason)
    assert Message.objects.count() == 0


def test_failing_step_is_not_retried_past_max_attempts():
    enrollment = enroll_in_campaign_with_broken_sms()
    for _ in range(MAX_STEP_ATTEMPTS):
        make_due(enrollment)
        run_due_steps()

    due = run_due_steps()

    assert due == 0
    assert enrollment.activities.filter(action="step_failed").count() == (
        MAX_STEP_ATTEMPTS - 1
    )


@pytest.mark.parametrize("event_type", ["identify", "page"])
def test_nameless_event_does_not_convert_a_campaign_without_a_goal(event_type):
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    enrollment = enroll(contact)
    nameless = make_event(contact, type=event_type, name="")

    evaluate_events([nameless.pk])

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.converted_at) == (
        EnrollmentStatus.ACTIVE,
        None,
    )


def test_live_campaign_edited_into_an_invalid_split_is_paused_with_the_reason():
    campaign = make_campaign(wait=None, body="Finish it")
    split = CampaignStep.objects.create(campaign=campaign, position=5, kind="split")
    split.variants.create(label="A", percent=90)
    split.variants.create(label="B", percent=30)

    problems = pause_if_invalid(campaign, changed_by="admin")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert any("add up to 120, not 100" in problem for problem in problems)
    assert campaign.changes.get().changed_by == "admin (invalid edit)"


def test_live_campaign_that_is_still_valid_stays_live():
    campaign = make_campaign(wait=None, body="Finish it")

    problems = pause_if_invalid(campaign, changed_by="admin")

    campaign.refresh_from_db()
    assert (campaign.status, problems) == (CampaignStatus.LIVE, [])


def test_sms_step_whose_text_is_too_long_for_twilio_is_skipped():
    make_campaign(wait=None, body="{{ event.properties.note }}")
    contact = make_contact(sms_consent=True)

    enrollment = enroll(contact, properties={"note": "x" * 1601})

    assert not Message.objects.exists()
    assert activity(enrollment, "skipped") == (
        "the text is 1601 characters for this contact, over the 1600 Twilio accepts"
    )
