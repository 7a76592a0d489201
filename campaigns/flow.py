"""A campaign read as a flow: what happens to a contact, in words, step by step.

Shown read-only on the campaign's admin page, so an admin can check what the
builder's fields add up to before going live. Reads the saved campaign.
"""

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from campaigns import compliance, conditions
from campaigns.choices import ConditionRole, StepKind, WaitUntilSubject
from campaigns.models import Campaign, CampaignStep
from campaigns.steps import step_window


@dataclass(frozen=True)
class FlowStep:
    step_id: int
    position: int
    kind: str
    label: str
    lines: tuple[str, ...]

    @property
    def is_sms(self) -> bool:
        return self.kind == StepKind.SEND_SMS


@dataclass(frozen=True)
class Flow:
    trigger: str
    entry: tuple[str, ...]
    steps: tuple[FlowStep, ...]
    exits: tuple[str, ...]
    goal: str
    compliance: tuple[str, ...]


def describe_campaign(campaign: Campaign) -> Flow:
    """Return the whole campaign as sentences: trigger, entry, steps, exits,
    goal and compliance."""
    groups = condition_groups_by_owner(campaign)
    steps = list(campaign.steps.prefetch_related("variants").order_by("position", "id"))
    positions = {step.position for step in steps}
    trigger = f'When a contact does "{campaign.trigger_event}"'
    trigger_if = describe_groups(groups[(ConditionRole.TRIGGER, None, None)])
    return Flow(
        trigger=f"{trigger}, if {trigger_if}." if trigger_if else f"{trigger}.",
        entry=entry_rules(campaign),
        steps=tuple(
            FlowStep(
                step_id=step.pk,
                position=step.position,
                kind=step.kind,
                label=step.get_kind_display(),
                lines=describe_step(step, groups=groups, positions=positions),
            )
            for step in steps
        ),
        exits=tuple(
            describe_exit(
                exit_rule.event_name, groups[(ConditionRole.EXIT, None, exit_rule.pk)]
            )
            for exit_rule in campaign.exits.order_by("event_name", "id")
        ),
        goal=describe_goal(campaign),
        compliance=compliance_rules(campaign),
    )


def condition_groups_by_owner(campaign: Campaign) -> dict:
    """The campaign's conditions as OR-ed groups, keyed by (role, step, exit)."""
    grouped: dict = defaultdict(lambda: defaultdict(list))
    for row in campaign.conditions.order_by("group", "id"):
        owner = (row.role, row.step_id, row.exit_id)
        grouped[owner][row.group].append(
            conditions.Condition(
                subject=row.subject,
                key=row.key,
                operator=row.operator,
                value=row.value,
                value_type=row.value_type,
            )
        )
    return defaultdict(
        list, {owner: list(by_group.values()) for owner, by_group in grouped.items()}
    )


def describe_groups(groups: list[list[conditions.Condition]]) -> str:
    """Conditions as "a and b", or "(a and b) or (c)" for several groups."""
    texts = [
        " and ".join(conditions.describe(condition) for condition in group)
        for group in groups
        if group
    ]
    if len(texts) <= 1:
        return "".join(texts)
    return " or ".join(f"({text})" for text in texts)


def entry_rules(campaign: Campaign) -> tuple[str, ...]:
    rules = ["Not while already inside the campaign."]
    if campaign.max_entries is None:
        rules.append("No limit on how often one contact enters.")
    else:
        rules.append(
            f"At most {plural(campaign.max_entries, 'entry', 'entries')} "
            "per contact, ever."
        )
    if campaign.cooldown:
        rules.append(
            f"At least {format_duration(campaign.cooldown)} between one contact's "
            "entries."
        )
    return tuple(rules)


def describe_step(
    step: CampaignStep, *, groups: dict, positions: set[int]
) -> tuple[str, ...]:
    describer = {
        StepKind.WAIT: describe_wait,
        StepKind.BRANCH: describe_branch,
        StepKind.SPLIT: describe_split,
        StepKind.SEND_SMS: describe_sms,
        StepKind.CREATE_TASK: describe_task,
        StepKind.CANCEL_TASKS: lambda step, **_: (
            "Cancel the open call tasks this campaign opened for the contact.",
        ),
        StepKind.UPDATE_CONTACT: describe_updates,
        StepKind.WEBHOOK: describe_webhook,
        StepKind.END: lambda step, **_: ("End the enrollment.",),
    }.get(step.kind)
    if describer is None:
        return (f"Unknown kind of step: {step.kind}.",)
    return describer(step, groups=groups, positions=positions)


def describe_wait(step: CampaignStep, **_) -> tuple[str, ...]:
    if step.wait_until_key:
        whose = (
            "trigger event's"
            if step.wait_until_subject == WaitUntilSubject.EVENT
            else "contact's"
        )
        line = f"Wait until the date in the {whose} property {step.wait_until_key}"
        if step.wait_offset:
            side = "before" if step.wait_offset < timedelta(0) else "after"
            line += f", {format_duration(abs(step.wait_offset))} {side} it"
        lines = [f"{line}; skipped when the contact has no such date."]
    elif step.wait:
        lines = [f"Wait {format_duration(step.wait)}."]
    else:
        lines = ["Wait: no duration and no date set."]
    try:
        window = step_window(step)
    except ValueError:
        lines.append(f'Allowed weekdays "{step.allowed_weekdays}" cannot be read.')
    else:
        if window is not None:
            lines.append(f"Then go on only at {window}, the contact's local time.")
    return tuple(lines)


def describe_branch(
    step: CampaignStep, *, groups: dict, positions: set[int]
) -> tuple[str, ...]:
    tests = []
    if step.branch_event:
        tests.append(f'the contact did "{step.branch_event}" since entering')
    described = describe_groups(groups[(ConditionRole.BRANCH, step.pk, None)])
    if described:
        tests.append(described)
    yes = target(step.goto_position, positions)
    no = target(step.else_position, positions)
    if not tests:
        return (f"No condition set, so always true: go to {yes}.",)
    return (f"If {' and '.join(tests)}: go to {yes}.", f"Otherwise: go to {no}.")


def describe_split(step: CampaignStep, *, positions: set[int], **_) -> tuple[str, ...]:
    variants = list(step.variants.all())
    if not variants:
        return ("Split with no variants: everyone goes on to the next step.",)
    return tuple(
        f"{variant.label}, {variant.percent}%: "
        + (
            "holdout, gets nothing more."
            if variant.is_holdout
            else f"go to {target(variant.goto_position, positions)}."
        )
        for variant in variants
    )


def describe_sms(step: CampaignStep, **_) -> tuple[str, ...]:
    lines = [f'Text: "{step.body}"']
    if step.media_url:
        lines.append(f"With media {step.media_url}")
    return tuple(lines)


def describe_task(step: CampaignStep, **_) -> tuple[str, ...]:
    line = f"Open a call task, {step.get_task_priority_display().lower()} priority"
    if step.task_due_after:
        line += f", to call no sooner than {format_duration(step.task_due_after)}"
    if step.task_due_within:
        line += f", within {format_duration(step.task_due_within)}"
    lines = [f"{line}."]
    if step.task_notes:
        lines.append(f"Notes: {step.task_notes}")
    if step.task_script:
        lines.append(f"Script: {step.task_script}")
    return tuple(lines)


def describe_updates(step: CampaignStep, **_) -> tuple[str, ...]:
    updates = step.updates or {}
    if not updates:
        return ("Update the contact: nothing to set.",)
    return tuple(
        f"Set the contact's {key} to {json.dumps(value, ensure_ascii=False)}."
        for key, value in updates.items()
    )


def describe_webhook(step: CampaignStep, **_) -> tuple[str, ...]:
    lines = [f"POST to {step.webhook_url} (timeout {step.webhook_timeout_seconds} s)."]
    if step.webhook_payload:
        lines.append(f"Payload: {step.webhook_payload}")
    return tuple(lines)


def target(position: int | None, positions: set[int]) -> str:
    if position is None:
        return "the next step"
    if position not in positions:
        return f"step {position}, which does not exist: the enrollment ends"
    return f"step {position}"


def describe_exit(event_name: str, groups: list) -> str:
    described = describe_groups(groups)
    text = f'Exit when the contact does "{event_name}"'
    return f"{text}, if {described}." if described else f"{text}."


def describe_goal(campaign: Campaign) -> str:
    if not campaign.goal_event:
        return "No goal."
    text = f'Converted when the contact does "{campaign.goal_event}"'
    if campaign.goal_window:
        text += f" within {format_duration(campaign.goal_window)} of entering"
    if campaign.goal_revenue_property:
        text += f"; revenue from its property {campaign.goal_revenue_property}"
    return f"{text}."


def compliance_rules(campaign: Campaign) -> tuple[str, ...]:
    rules = [
        "Transactional: texts go out without marketing consent."
        if campaign.is_transactional
        else "Marketing: only contacts with SMS consent enter and are texted."
    ]
    window = compliance.quiet_hours_window(campaign)
    own_hours = campaign.quiet_hours_start is not None
    if window is None:
        rules.append("No quiet hours: texts may go out at any hour.")
    else:
        rules.append(
            f"Texts go out only {window.start:%H:%M}-{window.end:%H:%M}, the "
            "contact's local time" + ("." if own_hours else " (the default).")
        )
    count, period = compliance.sms_cap(campaign)
    own_cap = campaign.sms_cap_count is not None or campaign.sms_cap_period
    rules.append(
        f"At most {plural(count, 'SMS', 'SMS')} per contact in any "
        f"{format_duration(period)}, from all campaigns"
        + ("." if own_cap else " (the default).")
    )
    return tuple(rules)


def format_duration(delta: timedelta) -> str:
    """A duration as words: "1 day 2 hours", "30 minutes", "-1 day"."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for size, singular, many in (
        (86400, "day", "days"),
        (3600, "hour", "hours"),
        (60, "minute", "minutes"),
        (1, "second", "seconds"),
    ):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(plural(count, singular, many))
    return sign + (" ".join(parts) or "0 seconds")


def plural(count: int, singular: str, many: str) -> str:
    return f"{count} {singular if count == 1 else many}"
