import secrets

from django.db import models

from contacts.models import Contact, Profile
from events.choices import EventType


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


class Source(models.Model):
    """Somewhere events come from, with the write key its SDK sends."""

    name = models.CharField(max_length=100, unique=True)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """One thing a person did, as the brand sent it, with its raw fields kept."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events")
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=EventType.choices)
    # The track event's name, or the page or screen name; empty for identify.
    name = models.CharField(max_length=255, blank=True, db_index=True)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="events"
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # `timestamp` is when it happened, corrected for the client's clock; the
    # other three are kept exactly as sent or seen.
    timestamp = models.DateTimeField(db_index=True)
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="event_message_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "name", "timestamp"]),
            models.Index(fields=["profile", "contact"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}".strip()
