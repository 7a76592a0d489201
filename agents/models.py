from django.db import models

from agents.choices import Direction, MessageStatus
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
