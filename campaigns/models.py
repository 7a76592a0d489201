from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from campaigns.choices import CampaignStatus, EnrollmentStatus, StepKind
from campaigns.templating import InvalidTemplateError, compile_template
from contacts.models import Contact
from events.models import Event


class Campaign(models.Model):
    """A journey: when a contact does the trigger event, run the steps in order."""

    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    trigger_event = models.CharField(
        max_length=255,
        db_index=True,
        help_text='The track event that enrolls a contact, e.g. "Application Started".',
    )
    exit_event = models.CharField(
        max_length=255,
        blank=True,
        help_text="An event that ends the enrollment at once, before any later step.",
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
    wait = models.DurationField(
        null=True, blank=True, help_text="For a wait step: how long, as HH:MM:SS."
    )
    body = models.TextField(
        blank=True,
        help_text=(
            "For an SMS step: the text, in Django's template language, e.g. "
            '"Hi {{ contact.first_name|default:"there" }}, finish your application".'
        ),
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    def clean(self) -> None:
        if self.kind == StepKind.WAIT and not self.wait:
            raise ValidationError({"wait": "A wait step needs a duration."})
        if self.kind == StepKind.SEND_SMS:
            if not self.body.strip():
                raise ValidationError({"body": "An SMS step needs a text."})
            try:
                compile_template(self.body)
            except InvalidTemplateError as exc:
                raise ValidationError({"body": exc.message}) from exc


class CampaignEnrollment(models.Model):
    """One contact's way through one campaign.

    `step_index` is the next step to run and `next_run_at` when; the ticker
    finds due enrollments from that indexed column.
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
    step_index = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=255, blank=True)

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
    """Why an enrollment did what it did: entered, sent, exited, completed."""

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
