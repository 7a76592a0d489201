"""What keeps a campaign from going live, in words an admin can act on."""

from campaigns import conditions
from campaigns.choices import StepKind
from campaigns.models import Campaign, CampaignStep, step_problems
from campaigns.quiet_hours import validate_window
from campaigns.steps import step_window


def campaign_problems(campaign: Campaign) -> list[str]:
    """Every reason this campaign cannot go live; empty when it can."""
    problems = []
    if not campaign.trigger_event.strip():
        problems.append("It needs a trigger event.")
    steps = list(campaign.steps.prefetch_related("variants").order_by("position", "id"))
    if not any(step.kind != StepKind.WAIT for step in steps):
        problems.append("It needs at least one step that does something.")
    positions = {step.position for step in steps}
    for step in steps:
        problems += [f"Step {step}: {text}" for text in step_problems(step).values()]
        problems += position_problems(step, positions)
        problems += split_problems(step)
        try:
            window = step_window(step)
        except ValueError:
            window = None  # Unreadable weekdays: step_problems has said so.
        if window is not None:
            problems += [f"Step {step}: {text}" for text in validate_window(window)]
    for row in campaign.conditions.all():
        condition = conditions.Condition(
            subject=row.subject,
            key=row.key,
            operator=row.operator,
            value=row.value,
            value_type=row.value_type,
        )
        problems += [
            f"Condition {row}: {text}" for text in conditions.validate(condition)
        ]
    if campaign.goal_window and not campaign.goal_event:
        problems.append("A goal window needs a goal event.")
    if (campaign.quiet_hours_start is None) != (campaign.quiet_hours_end is None):
        problems.append("Quiet hours need both a start and an end, or neither.")
    return problems


def position_problems(step: CampaignStep, positions: set[int]) -> list[str]:
    targets = [step.goto_position, step.else_position]
    targets += [variant.goto_position for variant in step.variants.all()]
    return [
        f"Step {step}: there is no step at position {target} to go to."
        for target in targets
        if target is not None and target not in positions
    ]


def split_problems(step: CampaignStep) -> list[str]:
    if step.kind != StepKind.SPLIT:
        return []
    variants = list(step.variants.all())
    total = sum(variant.percent for variant in variants)
    if not variants:
        return [f"Step {step}: a split needs variants."]
    if total != 100:
        return [f"Step {step}: the variants' percentages add up to {total}, not 100."]
    return []
