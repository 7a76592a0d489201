"""The campaign builder's admin: pick lists, problems, status buttons, the flow
view, preview and test sends, and the dry run.

The admin is driven through its own forms with the test client, as an admin's
browser would post them; the services behind it are also tested directly.
"""

import logging
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.models import Message
from campaigns import dry_run, flow, preview
from campaigns.choices import CampaignStatus, ConditionRole, StepKind
from campaigns.conditions import Operator, Subject, ValueType
from campaigns.errors import DryRunError, PreviewError
from campaigns.models import (
    Campaign,
    CampaignChange,
    CampaignCondition,
    CampaignEnrollment,
    CampaignEnrollmentActivity,
    CampaignSplitVariant,
    CampaignStep,
)
from contacts.errors import InvalidPhoneError
from contacts.models import Contact, ContactConsent
from events.choices import EventType, PropertyScope, PropertyType
from events.models import EventName, PropertyKey
from tests.factories import make_campaign, make_contact, make_event

pytestmark = pytest.mark.django_db

TRIGGER = "Application Started"
EXIT = "Application Completed"
GOAL = "Application Approved"
BODY = "Hi {{ contact.first_name }}, finish your application"
ADMIN_PHONE = "(415) 555-2671"

CAMPAIGN_DEFAULTS = {
    "name": "Finish your application",
    "trigger_event": TRIGGER,
    "max_entries": "",
    "cooldown": "",
    "quiet_hours_start": "00:00",
    "quiet_hours_end": "00:00",
    "sms_cap_count": "",
    "sms_cap_period": "",
    "goal_event": "",
    "goal_window": "",
    "goal_revenue_property": "",
}
STEP_DEFAULTS = {
    "wait": "",
    "wait_until_subject": "",
    "wait_until_key": "",
    "wait_offset": "",
    "allowed_start": "",
    "allowed_end": "",
    "allowed_weekdays": "",
    "branch_event": "",
    "goto_position": "",
    "else_position": "",
    "body": "",
    "media_url": "",
    "task_priority": "normal",
    "task_due_after": "",
    "task_due_within": "",
    "task_notes": "",
    "task_script": "",
    "updates": "{}",
    "webhook_url": "",
    "webhook_payload": "",
    "webhook_timeout_seconds": "10",
}
CONDITION_DEFAULTS = {
    "role": ConditionRole.TRIGGER,
    "step": "",
    "exit": "",
    "group": "1",
    "value": "",
    "value_type": ValueType.STRING,
}


# Helpers -----------------------------------------------------------------------


@pytest.fixture
def admin_client(client, settings):
    """A logged-in superuser, with the console SMS gateway."""
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    # No password: hashing one costs more than the rest of a test.
    user = User.objects.create_user("admin", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def inline_rows(prefix: str, rows: list[dict], *, defaults: dict) -> dict:
    """An inline formset's POST data; rows with an "id" are existing ones."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(sum(1 for row in rows if "id" in row)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in {**defaults, **row}.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def campaign_form(*, steps=(), exits=(), conditions=(), **fields) -> dict:
    """The campaign page's POST data, as the admin's browser sends it."""
    return {
        **CAMPAIGN_DEFAULTS,
        **fields,
        **inline_rows("steps", list(steps), defaults=STEP_DEFAULTS),
        **inline_rows("exits", list(exits), defaults={}),
        **inline_rows("conditions", list(conditions), defaults=CONDITION_DEFAULTS),
        **inline_rows("changes", [], defaults={}),
    }


def admin_url(name: str, campaign: Campaign) -> str:
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])


def draft_campaign(**overrides) -> Campaign:
    """A draft: wait 30 minutes, then text; exit on Application Completed."""
    return make_campaign(**{"status": CampaignStatus.DRAFT, "body": BODY, **overrides})


def sms_step(campaign: Campaign) -> CampaignStep:
    return campaign.steps.get(kind=StepKind.SEND_SMS)


def add_condition(campaign: Campaign, **fields) -> CampaignCondition:
    return CampaignCondition.objects.create(
        campaign=campaign,
        **{
            "role": ConditionRole.TRIGGER,
            "subject": Subject.EVENT,
            "operator": Operator.EQUALS,
            **fields,
        },
    )


def seen_key(key: str, type_: str, *, event_name: str = TRIGGER) -> PropertyKey:
    scope = PropertyScope.EVENT if event_name else PropertyScope.CONTACT
    return PropertyKey.objects.create(
        scope=scope, event_name=event_name, key=key, type=type_
    )


NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def trigger_at(contact, moment: datetime, **properties):
    return make_event(contact, name=TRIGGER, timestamp=moment, properties=properties)


def status_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The whole way through the admin --------------------------------------------------


def test_admin_builds_previews_sends_dry_runs_and_launches_a_campaign(
    admin_client, caplog
):
    ada = make_contact(first_name="Ada", sms_consent=True)
    trigger_at(ada, timezone.now() - timedelta(hours=2), plan="gold")
    trigger_at(make_contact(sms_consent=False), timezone.now(), plan="gold")
    trigger_at(make_contact(sms_consent=True), timezone.now(), plan="silver")
    steps = [
        {"position": "0", "kind": StepKind.WAIT, "wait": "00:30:00"},
        {"position": "1", "kind": StepKind.SEND_SMS, "body": BODY},
    ]
    conditions = [
        {"subject": Subject.EVENT, "key": "plan", "operator": "equals", "value": "gold"}
    ]

    # Build: a goal window without a goal event, which cannot go live.
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=steps,
            exits=[{"event_name": EXIT}],
            conditions=conditions,
            goal_window="7 00:00:00",
        ),
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert (campaign.status, campaign.trigger_event) == (CampaignStatus.DRAFT, TRIGGER)
    assert list(campaign.steps.values_list("position", "kind")) == [
        (0, StepKind.WAIT),
        (1, StepKind.SEND_SMS),
    ]
    assert list(campaign.exits.values_list("event_name", flat=True)) == [EXIT]
    assert list(campaign.conditions.values_list("key", "value")) == [("plan", "gold")]

    # Preview the SMS step for Ada.
    step = sms_step(campaign)
    response = admin_client.get(
        admin_url("preview", campaign), {"step": step.pk, "contact": ada.phone}
    )
    assert response.context["preview"].text == "Hi Ada, finish your application"
    assert "31 characters, GSM-7, 1 segment" in response.content.decode()

    # Test-send it to the admin's own phone.
    with caplog.at_level(logging.INFO, logger="campaigns.preview"):
        response = admin_client.post(
            admin_url("preview", campaign),
            {"step": step.pk, "contact": str(ada.pk), "to_phone": ADMIN_PHONE},
            follow=True,
        )
    [sent] = status_messages(response)
    sid = sent.removeprefix("Test SMS sent; the gateway's sid is ").rstrip(".")
    assert sid.startswith("console-")
    assert (
        f"test SMS {sid} of campaign {campaign.pk} step {step.pk}, rendered for "
        f"contact {ada.pk}, sent by admin to ***2671"
    ) in caplog.messages

    # Dry-run the last day.
    response = admin_client.get(admin_url("dry_run", campaign), {"days": "1"})
    result = response.context["result"]
    assert (result.events, result.entered, result.messaged) == (3, 1, 1)
    assert dict(result.blocked) == {
        "no SMS consent": 1,
        "trigger conditions not met": 1,
    }

    # Going live while invalid says why and changes nothing.
    response = admin_client.post(
        admin_url("status", campaign), {"status": "live"}, follow=True
    )
    assert status_messages(response) == [
        f"{campaign} cannot go live: A goal window needs a goal event."
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    # Fix it on the change page, then go live.
    saved_steps = list(campaign.steps.order_by("position"))
    response = admin_client.post(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        campaign_form(
            steps=[
                {**row, "id": str(saved.pk), "campaign": str(campaign.pk)}
                for row, saved in zip(steps, saved_steps, strict=True)
            ],
            exits=[
                {"id": str(campaign.exits.get().pk), "event_name": EXIT},
            ],
            conditions=[
                {**conditions[0], "id": str(campaign.conditions.get().pk)},
            ],
            goal_window="7 00:00:00",
            goal_event=GOAL,
            _continue="1",
        ),
        follow=True,
    )
    assert "None: it can go live." in response.content.decode()
    response = admin_client.post(
        admin_url("status", campaign), {"status": "live"}, follow=True
    )
    campaign.refresh_from_db()
    assert status_messages(response) == [f"{campaign} is live."]
    assert campaign.status == CampaignStatus.LIVE
    assert list(
        CampaignChange.objects.values_list(
            "campaign", "changed_by", "field", "old_value", "new_value"
        )
    ) == [(campaign.pk, "admin", "status", "draft", "live")]


# Pick lists ----------------------------------------------------------------------


def test_add_page_offers_seen_event_names_on_the_trigger_input(admin_client):
    EventName.objects.create(name=TRIGGER, type=EventType.TRACK)
    EventName.objects.create(name=EXIT, type=EventType.TRACK)

    response = admin_client.get(reverse("admin:campaigns_campaign_add"))

    content = response.content.decode()
    assert 'name="trigger_event"' in content
    assert 'list="regal-event-names"' in content
    assert (
        '<datalist id="regal-event-names">\n'
        f'  <option value="{EXIT}"></option>\n'
        f'  <option value="{TRIGGER}"></option>\n'
        "</datalist>"
    ) in content


def test_change_page_offers_condition_keys_of_the_trigger_event_and_contact(
    admin_client,
):
    campaign = draft_campaign()
    seen_key("amount", PropertyType.NUMBER)
    seen_key("colour", PropertyType.STRING, event_name="Page Viewed")
    seen_key("vip", PropertyType.BOOLEAN, event_name="")

    response = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    )

    options = [(o.key, o.label) for o in response.context["condition_keys"]]
    assert options == [
        ("amount", f"{TRIGGER} property, number"),
        ("first_name", "contact field, text"),
        ("last_name", "contact field, text"),
        ("email", "contact field, text"),
        ("phone", "contact field, text"),
        ("timezone", "contact field, text"),
        ("vip", "contact trait, true/false"),
    ]
    assert (
        f'<option value="amount">{TRIGGER} property, number</option>'
        in response.content.decode()
    )


def test_condition_type_left_at_default_is_taken_from_the_registry(admin_client):
    seen_key("amount", PropertyType.NUMBER)

    admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=[{"position": "0", "kind": StepKind.SEND_SMS, "body": BODY}],
            conditions=[
                {
                    "subject": Subject.EVENT,
                    "key": "amount",
                    "operator": Operator.GREATER_THAN,
                    "value": "100",
                }
            ],
        ),
    )

    assert CampaignCondition.objects.get().value_type == ValueType.NUMBER


def test_contact_condition_type_is_taken_from_the_contact_traits(admin_client):
    seen_key("vip", PropertyType.BOOLEAN, event_name="")

    admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=[{"position": "0", "kind": StepKind.SEND_SMS, "body": BODY}],
            conditions=[
                {
                    "subject": Subject.CONTACT,
                    "key": "vip",
                    "operator": Operator.EQUALS,
                    "value": "yes",
                }
            ],
        ),
    )

    assert CampaignCondition.objects.get().value_type == ValueType.BOOLEAN


def test_condition_type_chosen_by_the_admin_is_kept(admin_client):
    seen_key("amount", PropertyType.NUMBER)

    admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=[{"position": "0", "kind": StepKind.SEND_SMS, "body": BODY}],
            conditions=[
                {
                    "subject": Subject.EVENT,
                    "key": "amount",
                    "operator": Operator.EXISTS,
                    "value_type": ValueType.BOOLEAN,
                }
            ],
        ),
    )

    assert CampaignCondition.objects.get().value_type == ValueType.BOOLEAN


def test_condition_type_is_not_taken_from_an_object_in_the_registry(admin_client):
    seen_key("address", PropertyType.OBJECT)

    admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=[{"position": "0", "kind": StepKind.SEND_SMS, "body": BODY}],
            conditions=[
                {"subject": Subject.EVENT, "key": "address", "operator": "exists"}
            ],
        ),
    )

    assert CampaignCondition.objects.get().value_type == ValueType.STRING


def test_step_page_offers_event_names_on_the_branch_event_input(admin_client):
    EventName.objects.create(name="SMS Replied", type=EventType.TRACK)
    step = sms_step(draft_campaign())

    response = admin_client.get(
        reverse("admin:campaigns_campaignstep_change", args=[step.pk])
    )

    content = response.content.decode()
    assert response.context["event_names"] == ["SMS Replied"]
    assert 'list="regal-event-names"' in content
    assert '<option value="SMS Replied"></option>' in content


def test_branch_condition_type_is_taken_from_the_trigger_events_keys(admin_client):
    campaign = draft_campaign()
    step = CampaignStep.objects.create(
        campaign=campaign, position=2, kind=StepKind.BRANCH
    )
    seen_key("amount", PropertyType.NUMBER)

    admin_client.post(
        reverse("admin:campaigns_campaignstep_change", args=[step.pk]),
        {
            **STEP_DEFAULTS,
            "position": "2",
            "kind": StepKind.BRANCH,
            **inline_rows("variants", [], defaults={}),
            **inline_rows(
                "conditions",
                [
                    {
                        "group": "1",
                        "subject": Subject.EVENT,
                        "key": "amount",
                        "operator": Operator.LESS_THAN,
                        "value": "10",
                        "value_type": ValueType.STRING,
                    }
                ],
                defaults={},
            ),
        },
    )

    condition = CampaignCondition.objects.get()
    assert (condition.role, condition.step, condition.value_type) == (
        ConditionRole.BRANCH,
        step,
        ValueType.NUMBER,
    )


# Problems and status buttons ------------------------------------------------------


def test_change_page_lists_the_problems_before_going_live(admin_client):
    campaign = draft_campaign(goal_window=timedelta(days=7))

    response = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    )

    assert (
        '<ul class="campaign-problems"><li>A goal window needs a goal event.</li></ul>'
        in response.content.decode()
    )


def test_change_page_says_a_valid_campaign_can_go_live(admin_client):
    campaign = draft_campaign()

    response = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    )

    assert "None: it can go live." in response.content.decode()


def test_going_live_lists_unreadable_weekdays_instead_of_failing(admin_client):
    campaign = draft_campaign()
    campaign.steps.filter(kind=StepKind.WAIT).update(allowed_weekdays="mon,tue")

    response = admin_client.post(
        admin_url("status", campaign), {"status": "live"}, follow=True
    )

    assert status_messages(response) == [
        f"{campaign} cannot go live: Step 0. Wait: Write the days as numbers "
        "separated by commas, 0=Monday … 6=Sunday, e.g. 0,1,2,3,4."
    ]


def test_a_step_whose_updates_box_is_cleared_saves_with_no_updates(admin_client):
    admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(
            steps=[
                {
                    "position": "0",
                    "kind": StepKind.SEND_SMS,
                    "body": BODY,
                    "updates": "",
                }
            ]
        ),
    )

    assert CampaignStep.objects.get().updates == {}


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        pytest.param(CampaignStatus.DRAFT, ["Go live"], id="draft"),
        pytest.param(CampaignStatus.LIVE, ["Pause", "Stop"], id="live"),
        pytest.param(CampaignStatus.PAUSED, ["Resume", "Stop"], id="paused"),
        pytest.param(CampaignStatus.STOPPED, [], id="stopped"),
    ],
)
def test_change_page_offers_the_status_buttons_of_its_status(
    admin_client, status, buttons
):
    campaign = make_campaign(status=status)

    response = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    )

    assert [label for _, label in response.context["status_buttons"]] == buttons


def test_pause_button_pauses_a_live_campaign_on_the_record(admin_client):
    campaign = make_campaign(status=CampaignStatus.LIVE)

    admin_client.post(admin_url("status", campaign), {"status": "paused"})

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert list(
        CampaignChange.objects.values_list("changed_by", "old_value", "new_value")
    ) == [("admin", "live", "paused")]


def test_resume_button_makes_a_paused_campaign_live(admin_client):
    campaign = make_campaign(status=CampaignStatus.PAUSED)

    admin_client.post(admin_url("status", campaign), {"status": "live"})

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE


def test_status_button_refuses_a_change_its_status_does_not_offer(admin_client):
    campaign = draft_campaign()

    response = admin_client.post(
        admin_url("status", campaign), {"status": "stopped"}, follow=True
    )

    campaign.refresh_from_db()
    assert status_messages(response) == ["A draft campaign cannot be made stopped."]
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignChange.objects.exists()


def test_status_change_needs_a_post(admin_client):
    campaign = draft_campaign()

    response = admin_client.get(admin_url("status", campaign))

    assert response.status_code == 405


@pytest.mark.parametrize("page", ["status", "preview", "dry_run"])
def test_builder_pages_are_for_staff_only(client, page):
    campaign = draft_campaign()
    client.force_login(User.objects.create_user("agent"))

    response = client.post(admin_url(page, campaign), {"status": "live"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


# The flow view -------------------------------------------------------------------


def test_flow_describes_the_whole_campaign():
    campaign = draft_campaign(
        max_entries=2,
        cooldown=timedelta(days=1),
        goal_event=GOAL,
        goal_window=timedelta(days=7),
        goal_revenue_property="amount",
        quiet_hours_start=time(9),
        quiet_hours_end=time(20),
    )
    add_condition(campaign, key="plan", value="gold")
    exit_rule = campaign.exits.get()
    add_condition(
        campaign,
        role=ConditionRole.EXIT,
        exit=exit_rule,
        key="approved",
        value="true",
        value_type=ValueType.BOOLEAN,
    )

    described = flow.describe_campaign(campaign)

    assert described.trigger == (
        f'When a contact does "{TRIGGER}", if event property plan is "gold".'
    )
    assert described.entry == (
        "Not while already inside the campaign.",
        "At most 2 entries per contact, ever.",
        "At least 1 day between one contact's entries.",
    )
    assert [(step.position, step.label, step.lines) for step in described.steps] == [
        (0, "Wait", ("Wait 30 minutes.",)),
        (1, "Send SMS", (f'Text: "{BODY}"',)),
    ]
    assert described.exits == (
        f'Exit when the contact does "{EXIT}", if event property approved is true.',
    )
    assert described.goal == (
        f'Converted when the contact does "{GOAL}" within 7 days of entering; '
        "revenue from its property amount."
    )
    assert described.compliance == (
        "Marketing: only contacts with SMS consent enter and are texted.",
        "Texts go out only 09:00-20:00, the contact's local time.",
        "At most 3 SMS per contact in any 1 day, from all campaigns (the default).",
    )


def test_flow_describes_a_wait_until_a_date_with_allowed_hours():
    campaign = draft_campaign(wait=None)
    step = CampaignStep.objects.create(
        campaign=campaign,
        position=5,
        kind=StepKind.WAIT,
        wait_until_subject="contact",
        wait_until_key="appointment_at",
        wait_offset=timedelta(days=-1),
        allowed_start=time(9),
        allowed_end=time(17),
        allowed_weekdays="0,1,2,3,4",
    )

    described = flow.describe_campaign(campaign)

    [lines] = [each.lines for each in described.steps if each.step_id == step.pk]
    assert lines == (
        "Wait until the date in the contact's property appointment_at, 1 day "
        "before it; skipped when the contact has no such date.",
        "Then go on only at 09:00-17:00 Mon, Tue, Wed, Thu, Fri, the contact's "
        "local time.",
    )


def test_flow_describes_branch_targets_and_conditions():
    campaign = draft_campaign()
    step = CampaignStep.objects.create(
        campaign=campaign,
        position=2,
        kind=StepKind.BRANCH,
        branch_event="SMS Replied",
        goto_position=1,
        else_position=9,
    )
    add_condition(
        campaign,
        role=ConditionRole.BRANCH,
        step=step,
        subject=Subject.CONTACT,
        key="age",
        operator=Operator.GREATER_THAN,
        value="18",
        value_type=ValueType.NUMBER,
    )

    described = flow.describe_campaign(campaign)

    [lines] = [each.lines for each in described.steps if each.step_id == step.pk]
    assert lines == (
        'If the contact did "SMS Replied" since entering and contact property age '
        "is greater than 18: go to step 1.",
        "Otherwise: go to step 9, which does not exist: the enrollment ends.",
    )


def test_flow_describes_split_variants_with_their_shares():
    campaign = draft_campaign()
    step = CampaignStep.objects.create(
        campaign=campaign, position=2, kind=StepKind.SPLIT
    )
    CampaignSplitVariant.objects.create(step=step, label="A", percent=90)
    CampaignSplitVariant.objects.create(
        step=step, label="Holdout", percent=10, is_holdout=True
    )

    described = flow.describe_campaign(campaign)

    [lines] = [each.lines for each in described.steps if each.step_id == step.pk]
    assert lines == (
        "A, 90%: go to the next step.",
        "Holdout, 10%: holdout, gets nothing more.",
    )


def test_change_page_shows_the_flow_with_a_preview_link(admin_client):
    campaign = draft_campaign()

    response = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    )

    content = response.content.decode()
    assert "Wait 30 minutes." in content
    assert (
        f'<a href="{admin_url("preview", campaign)}?step={sms_step(campaign).pk}">'
        "Preview and test-send</a>"
    ) in content


# Preview -------------------------------------------------------------------------


def test_preview_step_renders_the_text_for_the_contact_with_its_encoding():
    step = sms_step(draft_campaign())
    contact = make_contact(first_name="Ada")

    shown = preview.preview_step(step, contact)

    assert (shown.text, shown.description, shown.error) == (
        "Hi Ada, finish your application",
        "31 characters, GSM-7, 1 segment",
        "",
    )


def test_preview_step_names_the_characters_that_force_ucs2():
    step = sms_step(draft_campaign())
    contact = make_contact(first_name="Łucja")

    shown = preview.preview_step(step, contact)

    assert shown.info.non_gsm_characters == ("Ł",)
    assert shown.description == "33 characters, UCS-2 (because of Ł), 1 segment"


def test_preview_step_reads_the_contacts_latest_trigger_event():
    campaign = draft_campaign(body="Your {{ event.properties.plan }} plan")
    contact = make_contact()
    trigger_at(contact, timezone.now() - timedelta(days=2), plan="silver")
    latest = trigger_at(contact, timezone.now() - timedelta(days=1), plan="gold")

    shown = preview.preview_step(sms_step(campaign), contact)

    assert (shown.text, shown.event) == ("Your gold plan", latest)


def test_preview_step_reports_a_template_that_fails_on_the_contacts_data():
    campaign = draft_campaign(body="{{ contact.first_name|divisibleby:2 }}")
    contact = make_contact(first_name="Ada")

    shown = preview.preview_step(sms_step(campaign), contact)

    assert (shown.text, shown.info) == ("", None)
    assert shown.error == (
        "The text fails on this contact's data: "
        "ValueError(\"invalid literal for int() with base 10: 'Ada'\")"
    )


def test_preview_step_reports_an_empty_text():
    campaign = draft_campaign(body="{{ contact.first_name }}")

    shown = preview.preview_step(sms_step(campaign), make_contact(first_name=""))

    assert shown.error == (
        "The text is empty for this contact: there is nothing to send."
    )


def test_preview_page_linked_from_a_step_asks_for_a_contact(admin_client):
    campaign = draft_campaign()
    step = sms_step(campaign)

    response = admin_client.get(admin_url("preview", campaign), {"step": step.pk})

    form = response.context["form"]
    assert (form.is_bound, form["step"].value()) == (False, str(step.pk))
    assert "preview" not in response.context


def test_preview_page_says_when_no_contact_matches(admin_client):
    campaign = draft_campaign()

    response = admin_client.get(
        admin_url("preview", campaign),
        {"step": sms_step(campaign).pk, "contact": "+14155559999"},
    )

    assert response.context["form"].errors == {
        "contact": ["No contact has this phone number or id."]
    }
    assert "preview" not in response.context


def test_find_contact_reads_a_phone_in_any_format_or_an_id():
    contact = make_contact(phone="+14155552671")

    found = [
        preview.find_contact(text)
        for text in ("(415) 555-2671", "+1 415 555 2671", str(contact.pk))
    ]

    assert found == [contact, contact, contact]


# Test sends ----------------------------------------------------------------------


def test_test_send_texts_the_admins_phone_and_records_nothing(settings, caplog):
    settings.TWILIO_ACCOUNT_SID = ""
    campaign = draft_campaign()
    contact = make_contact(first_name="Ada")
    before = (Contact.objects.count(), ContactConsent.objects.count())

    with caplog.at_level(logging.INFO, logger="agents.clients.twilio"):
        sid = preview.test_send(
            sms_step(campaign), contact=contact, to_phone=ADMIN_PHONE, sent_by="admin"
        )

    assert sid.startswith("console-")
    assert (
        f"console SMS {sid} to ***2671: Hi Ada, finish your application"
        in caplog.messages
    )
    assert (Contact.objects.count(), ContactConsent.objects.count()) == before
    assert not Message.objects.exists()
    assert not CampaignEnrollment.objects.exists()


def test_test_send_refuses_a_phone_that_is_not_a_number(settings, caplog):
    settings.TWILIO_ACCOUNT_SID = ""
    campaign = draft_campaign()

    with (
        caplog.at_level(logging.INFO),
        pytest.raises(InvalidPhoneError, match="is a short code"),
    ):
        preview.test_send(
            sms_step(campaign),
            contact=make_contact(first_name="Ada"),
            to_phone="12345",
            sent_by="admin",
        )

    assert not [r for r in caplog.records if "SMS" in r.getMessage()]


def test_test_send_refuses_a_phone_that_said_stop(settings, caplog):
    settings.TWILIO_ACCOUNT_SID = ""
    campaign = draft_campaign()
    stopped = make_contact(sms_consent=False)

    with (
        caplog.at_level(logging.INFO),
        pytest.raises(PreviewError, match="opted out of SMS"),
    ):
        preview.test_send(
            sms_step(campaign),
            contact=make_contact(first_name="Ada"),
            to_phone=stopped.phone,
            sent_by="admin",
        )

    assert not [r for r in caplog.records if "console SMS" in r.getMessage()]


def test_test_send_refuses_a_text_that_fails_to_render(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    campaign = draft_campaign(body="{{ contact.first_name }}")

    with pytest.raises(PreviewError, match="The text is empty for this contact"):
        preview.test_send(
            sms_step(campaign),
            contact=make_contact(first_name=""),
            to_phone=ADMIN_PHONE,
            sent_by="admin",
        )


def test_preview_page_shows_why_a_test_send_phone_is_refused(admin_client):
    campaign = draft_campaign()
    contact = make_contact(first_name="Ada")

    response = admin_client.post(
        admin_url("preview", campaign),
        {"step": sms_step(campaign).pk, "contact": str(contact.pk), "to_phone": "12"},
    )

    assert response.status_code == 200
    assert response.context["send_form"].errors == {
        "to_phone": ["phone '12' is a short code, not a person's number"]
    }
    assert response.context["preview"].text == "Hi Ada, finish your application"


# Dry run -------------------------------------------------------------------------


def test_simulate_counts_entered_blocked_and_messaged():
    campaign = draft_campaign()
    add_condition(campaign, key="plan", value="gold")
    trigger_at(make_contact(sms_consent=True), NOW - timedelta(hours=2), plan="gold")
    trigger_at(make_contact(sms_consent=False), NOW - timedelta(hours=2), plan="gold")
    trigger_at(make_contact(sms_consent=True), NOW - timedelta(hours=2), plan="silver")

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.events, result.entered, result.messaged, result.deferred) == (
        3,
        1,
        1,
        0,
    )
    assert dict(result.blocked) == {
        "no SMS consent": 1,
        "trigger conditions not met": 1,
    }
    assert (dict(result.ended_before_sms), dict(result.not_messaged)) == ({}, {})


def test_simulate_writes_nothing():
    campaign = draft_campaign()
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=3))
    trigger_at(contact, NOW - timedelta(hours=1))

    with CaptureQueriesContext(connection) as queries:
        result = dry_run.simulate(campaign, 1, now=NOW)

    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert result.messaged == 2
    assert writes == []
    assert not CampaignEnrollment.objects.exists()
    assert not CampaignEnrollmentActivity.objects.exists()
    assert not Message.objects.exists()


def test_simulate_counts_a_trigger_while_inside_as_already_inside():
    campaign = draft_campaign()
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=2))
    trigger_at(contact, NOW - timedelta(hours=2) + timedelta(minutes=20))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.entered, dict(result.blocked)) == (1, {"already inside": 1})


def test_simulate_counts_max_entries_among_replayed_entries():
    campaign = draft_campaign(max_entries=1)
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=5))
    trigger_at(contact, NOW - timedelta(hours=1))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.entered, dict(result.blocked)) == (1, {"most entries reached": 1})


def test_simulate_counts_cooldown_among_replayed_entries():
    campaign = draft_campaign(cooldown=timedelta(hours=12))
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=5))
    trigger_at(contact, NOW - timedelta(hours=1))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.entered, dict(result.blocked)) == (1, {"in cool-down": 1})


def test_simulate_counts_quiet_hours_as_messaged_and_deferred():
    campaign = draft_campaign(quiet_hours_start=time(18), quiet_hours_end=time(20))
    trigger_at(make_contact(sms_consent=True, timezone="UTC"), NOW - timedelta(hours=2))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.messaged, result.deferred) == (1, 1)


def test_simulate_counts_an_exit_before_the_sms_as_left():
    campaign = draft_campaign()
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=2))
    make_event(contact, name=EXIT, timestamp=NOW - timedelta(hours=2, minutes=-10))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.entered, result.messaged) == (1, 0)
    assert dict(result.ended_before_sms) == {f"exit event {EXIT}": 1}


def test_simulate_counts_the_frequency_cap_over_replayed_texts():
    campaign = draft_campaign(
        wait=None, sms_cap_count=1, sms_cap_period=timedelta(days=1)
    )
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(hours=5))
    trigger_at(contact, NOW - timedelta(hours=1))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.entered, result.messaged) == (2, 1)
    assert dict(result.not_messaged) == {"frequency cap": 1}


def test_simulate_replays_only_the_period():
    campaign = draft_campaign()
    contact = make_contact(sms_consent=True)
    trigger_at(contact, NOW - timedelta(days=2))
    trigger_at(make_contact(sms_consent=True), NOW + timedelta(minutes=1))

    result = dry_run.simulate(campaign, 1, now=NOW)

    assert (result.events, result.entered) == (0, 0)


def test_simulate_refuses_a_campaign_that_is_not_a_draft():
    campaign = make_campaign(status=CampaignStatus.LIVE)

    with pytest.raises(DryRunError, match="Only a draft can be dry-run"):
        dry_run.simulate(campaign, 7, now=NOW)


def test_dry_run_page_refuses_a_live_campaign(admin_client):
    campaign = make_campaign(status=CampaignStatus.LIVE)

    response = admin_client.get(admin_url("dry_run", campaign), {"days": "7"})

    assert response.context["form"].non_field_errors() == [
        "Only a draft can be dry-run; this campaign is live."
    ]
    assert "result" not in response.context


def test_dry_run_page_refuses_more_than_90_days(admin_client):
    campaign = draft_campaign()

    response = admin_client.get(admin_url("dry_run", campaign), {"days": "91"})

    assert response.context["form"].errors == {
        "days": ["Ensure this value is less than or equal to 90."]
    }
