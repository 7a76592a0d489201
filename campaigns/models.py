from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from agents.choices import CallTaskPriority
from campaigns.choices import (
    CampaignStatus,
    ConditionRole,
    DeliveryStatus,
    EnrollmentStatus,
    StepKind,
    WaitUntilSubject,
)
from campaigns.conditions import Operator, Subject, ValueType
from campaigns.templating import InvalidTemplateError, compile_template
from contacts.models import Contact
from events.models import Event


class Campaign(models.Model):
    """A journey: when a contact does the trigger event, run the steps in order.

    A live campaign's steps can be edited: an enrollment points at the step
    row it is on, so a change applies to enrollments that reach the step
    after it. Steps that active enrollments are on cannot be deleted.
    """

    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    trigger_event = models.CharField(
        max_length=255,
        db_index=True,
        help_text='The event that enrolls a contact, e.g. "Application Started".',
    )
    # Entry rules. "Not while already inside" always holds.
    max_entries = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often one contact may ever enter; empty for no limit.",
    )
    cooldown = models.DurationField(
        null=True,
        blank=True,
        help_text="Least time between one contact's entries, as DD HH:MM:SS.",
    )
    # Compliance.
    is_transactional = models.BooleanField(
        default=False,
        help_text=(
            "Transactional messages (an appointment reminder, an order update) "
            "are sent without marketing consent. Quiet hours still apply. "
            "Every change of this switch is recorded."
        ),
    )
    quiet_hours_start = models.TimeField(
        null=True,
        blank=True,
        help_text="Earliest local time to text or call; empty for the default.",
    )
    quiet_hours_end = models.TimeField(
        null=True,
        blank=True,
        help_text="Latest local time (exclusive); empty for the default.",
    )
    sms_cap_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many SMS per contact per cap period, from all "
        "campaigns; empty for the default.",
    )
    sms_cap_period = models.DurationField(null=True, blank=True)
    # Goal.
    goal_event = models.CharField(max_length=255, blank=True)
    goal_window = models.DurationField(
        null=True, blank=True, help_text="How long after entry the goal counts."
    )
    goal_revenue_property = models.CharField(
        max_length=255,
        blank=True,
        help_text="A property of the goal event that holds its revenue.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignStep(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    # Wait.
    wait = models.DurationField(
        null=True, blank=True, help_text="Wait: how long, as DD HH:MM:SS."
    )
    wait_until_subject = models.CharField(
        max_length=10, choices=WaitUntilSubject.choices, blank=True
    )
    wait_until_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="Wait until the date in this property (e.g. appointment_at).",
    )
    wait_offset = models.DurationField(
        null=True,
        blank=True,
        help_text="Added to that date; negative (e.g. -1 day) for before it.",
    )
    allowed_start = models.TimeField(
        null=True, blank=True, help_text="Wait: resume no earlier than (local)."
    )
    allowed_end = models.TimeField(
        null=True, blank=True, help_text="Wait: resume no later than (local)."
    )
    allowed_weekdays = models.CharField(
        max_length=20,
        blank=True,
        help_text="Wait: days to resume on, 0=Monday … 6=Sunday, e.g. 0,1,2,3,4.",
    )
    # Branch.
    branch_event = models.CharField(
        max_length=255,
        blank=True,
        help_text="Branch: true when the contact did this event since entering.",
    )
    goto_position = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Branch: the step to go to when true (empty: the next step).",
    )
    else_position = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Branch: the step to go to when false (empty: the next step).",
    )
    # Send SMS.
    body = models.TextField(
        blank=True,
        help_text=(
            "SMS: the text, in Django's template language, e.g. "
            '"Hi {{ contact.first_name|default:"there" }}".'
        ),
    )
    media_url = models.URLField(blank=True)
    # Create call task.
    task_priority = models.CharField(
        max_length=10, choices=CallTaskPriority.choices, default=CallTaskPriority.NORMAL
    )
    task_due_after = models.DurationField(
        null=True, blank=True, help_text="Task: call no sooner than this after now."
    )
    task_due_within = models.DurationField(
        null=True, blank=True, help_text="Task: call within this after now."
    )
    task_notes = models.TextField(blank=True)
    task_script = models.TextField(blank=True)
    # Update contact.
    updates = models.JSONField(
        default=dict,
        blank=True,
        help_text='Properties to set, e.g. {"stage": "nudged"}; values are templates.',
    )
    # Webhook.
    webhook_url = models.URLField(blank=True)
    webhook_payload = models.TextField(
        blank=True, help_text="The JSON to POST, as a template."
    )
    webhook_timeout_seconds = models.PositiveIntegerField(default=10)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    def clean(self) -> None:
        # A cleared JSON box arrives as None, which the NOT NULL column refuses.
        if self.updates is None:
            self.updates = {}
        problems = step_problems(self)
        if problems:
            raise ValidationError(problems)


def step_problems(step: CampaignStep) -> dict[str, str]:
    """What must be fixed before this step can run, by field."""
    problems: dict[str, str] = {}
    if step.kind == StepKind.WAIT and not step.wait and not step.wait_until_key:
        problems["wait"] = "A wait step needs a duration or a date property."
    if step.wait_until_key and not step.wait_until_subject:
        problems["wait_until_subject"] = "Say whose property the date is."
    if not weekdays_readable(step.allowed_weekdays):
        problems["allowed_weekdays"] = (
            "Write the days as numbers separated by commas, 0=Monday … 6=Sunday, "
            "e.g. 0,1,2,3,4."
        )
    if step.kind == StepKind.SEND_SMS and not step.body.strip():
        problems["body"] = "An SMS step needs a text."
    if step.kind == StepKind.WEBHOOK and not step.webhook_url:
        problems["webhook_url"] = "A webhook step needs a URL."
    for field in ("body", "task_notes", "task_script", "webhook_payload"):
        try:
            compile_template(getattr(step, field))
        except InvalidTemplateError as exc:
            problems[field] = exc.message
    return problems


def weekdays_readable(text: str) -> bool:
    """Whether steps.step_window can read these weekdays (it calls int())."""
    return all(day.strip().isdigit() for day in text.split(",") if day.strip())


class CampaignSplitVariant(models.Model):
    """One arm of a split step: a share of contacts and where they go."""

    step = models.ForeignKey(
        CampaignStep, on_delete=models.CASCADE, related_name="variants"
    )
    label = models.CharField(max_length=50)
    percent = models.PositiveSmallIntegerField()
    is_holdout = models.BooleanField(
        default=False, help_text="Contacts in a holdout get nothing more."
    )
    goto_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="The step to go to (empty: the next step)."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.percent}%)"


class CampaignExit(models.Model):
    """An event that ends an enrollment at once, when its conditions hold."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="exits"
    )
    event_name = models.CharField(max_length=255, db_index=True)

    def __str__(self) -> str:
        return f"exit on {self.event_name}"


class CampaignCondition(models.Model):
    """One condition. Conditions of one role and owner in the same group must
    all hold; any one group holding is enough (OR of ANDs)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="conditions"
    )
    role = models.CharField(max_length=10, choices=ConditionRole.choices)
    step = models.ForeignKey(
        CampaignStep,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conditions",
    )
    exit = models.ForeignKey(
        CampaignExit,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conditions",
    )
    group = models.PositiveSmallIntegerField(
        default=1, help_text="Conditions with the same group number must all hold."
    )
    subject = models.CharField(max_length=10, choices=Subject.choices)
    key = models.CharField(max_length=255)
    operator = models.CharField(max_length=20, choices=Operator.choices)
    value = models.CharField(max_length=500, blank=True)
    value_type = models.CharField(
        max_length=10, choices=ValueType.choices, default=ValueType.STRING
    )

    class Meta:
        ordering = ["group", "id"]

    def __str__(self) -> str:
        return f"{self.subject}.{self.key} {self.operator} {self.value}"


class CampaignEnrollment(models.Model):
    """One contact's way through one campaign.

    `step` is the next step to run and `next_run_at` when; the ticker finds
    due enrollments from that indexed column.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="enrollments"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="enrollments"
    )
    trigger_event = models.ForeignKey(
        Event, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    step = models.ForeignKey(
        CampaignStep,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    # Failed runs of the current step; reset when it moves on.
    attempts = models.PositiveSmallIntegerField(default=0)
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=255, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    revenue = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            # One event enrolls at most once, however often it is evaluated.
            models.UniqueConstraint(
                fields=["campaign", "trigger_event"],
                name="enrollment_trigger_event_unique",
            ),
            # Not while already inside.
            models.UniqueConstraint(
                fields=["campaign", "contact"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="enrollment_one_active_per_contact",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="enrollment_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.campaign}"


class CampaignEnrollmentActivity(models.Model):
    """Why an enrollment did what it did: the answer to "why did (or didn't)
    this person get it?"."""

    enrollment = models.ForeignKey(
        CampaignEnrollment, on_delete=models.CASCADE, related_name="activities"
    )
    step = models.ForeignKey(
        CampaignStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=50)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "campaign enrollment activities"

    def __str__(self) -> str:
        return f"{self.action}: {self.detail}"


class CampaignSplitAssignment(models.Model):
    """Which variant of a split a contact got; stable for that contact."""

    enrollment = models.ForeignKey(
        CampaignEnrollment, on_delete=models.CASCADE, related_name="assignments"
    )
    step = models.ForeignKey(CampaignStep, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(
        CampaignSplitVariant, on_delete=models.CASCADE, related_name="assignments"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="split_assignment_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"enrollment {self.enrollment_id}: {self.variant}"


class CampaignWebhookDelivery(models.Model):
    """One webhook step's POST for one enrollment, with its attempts' outcome.

    Written before the first attempt; retried with backoff on timeouts,
    connection errors, 5xx and 429, never on another 4xx.
    """

    enrollment = models.ForeignKey(
        CampaignEnrollment, on_delete=models.CASCADE, related_name="deliveries"
    )
    step = models.ForeignKey(CampaignStep, on_delete=models.CASCADE, related_name="+")
    url = models.URLField()
    payload = models.TextField()
    timeout_seconds = models.PositiveIntegerField(default=10)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="webhook_delivery_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} ({self.status})"


class CampaignChange(models.Model):
    """A change to a campaign that must stay on record: who, what, when."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="changes"
    )
    changed_by = models.CharField(max_length=150)
    field = models.CharField(max_length=50)
    old_value = models.CharField(max_length=255, blank=True)
    new_value = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} → {self.new_value} by {self.changed_by}"


class CampaignTicker(models.Model):
    """The lease of the one chain of ticks that runs due steps.

    A tick runs for a few seconds and enqueues the next one; the chain that
    holds an unexpired lease is the only one that continues, so a tick left
    in the queue by a restart, or one started by the once-a-minute schedule
    while a chain is alive, stops at once.
    """

    chain_id = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ticker chain {self.chain_id or '-'} until {self.lease_until}"
