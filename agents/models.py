from django.conf import settings
from django.db import models

from agents.choices import (
    CallDisposition,
    CallTaskPriority,
    CallTaskStatus,
    Direction,
    MessageStatus,
)
from contacts.models import Contact


class Conversation(models.Model):
    """The SMS thread between the brand and one contact."""

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, related_name="conversation"
    )
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]

    def __str__(self) -> str:
        return f"Conversation with {self.contact}"


class Message(models.Model):
    """One SMS, in or out.

    An outbound message is written, under its idempotency key, before the
    gateway is called: a task that runs twice finds the row and sends nothing.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=MessageStatus.choices)
    twilio_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    idempotency_key = models.CharField(
        max_length=255, null=True, blank=True, unique=True
    )
    media_url = models.URLField(blank=True)
    # An SMS that cannot reach Twilio by then is not sent: past it, the
    # contact's quiet hours have begun. Twilio's ValidityPeriod is set from it.
    send_before = models.DateTimeField(null=True, blank=True)
    # False only for a transactional campaign's messages, sent without
    # marketing consent (the campaign's switch is on the record).
    requires_consent = models.BooleanField(default=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a pending message is (re)tried; the ticker picks up any the queue lost.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.direction} SMS {self.pk} ({self.status})"


class CallTask(models.Model):
    """A call an agent should make to a contact, opened by a campaign or a person.

    `idempotency_key` makes a campaign step's task open once however often the
    step runs; `opener_key` ("campaign:12") names what opened it, so that the
    opener can cancel its own open tasks and no one else's.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="call_tasks"
    )
    status = models.CharField(
        max_length=20, choices=CallTaskStatus.choices, default=CallTaskStatus.OPEN
    )
    priority = models.CharField(
        max_length=10, choices=CallTaskPriority.choices, default=CallTaskPriority.NORMAL
    )
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the agent should call."
    )
    due_by = models.DateTimeField(
        null=True, blank=True, help_text="The call is no use after this."
    )
    notes = models.TextField(blank=True, help_text="For the agent: why to call.")
    script = models.TextField(blank=True, help_text="What to say.")
    # People read this one; code matches on opener_key.
    opened_by = models.CharField(max_length=255)
    opener_key = models.CharField(max_length=100, db_index=True)
    idempotency_key = models.CharField(
        max_length=255, null=True, blank=True, unique=True
    )
    disposition = models.CharField(
        max_length=20, choices=CallDisposition.choices, blank=True
    )
    # PROTECT: who closed a task is part of its record; deactivate agents instead.
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="completed_call_tasks",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_notes = models.TextField(
        blank=True, help_text="The agent's, on completing."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="agents_calltask_open_due"),
        ]

    def __str__(self) -> str:
        return f"Call {self.contact} ({self.status})"
