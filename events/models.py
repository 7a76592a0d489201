import secrets

from django.db import models

from contacts.models import Contact, Profile
from events.choices import EventType, LogLevel, PropertyScope, PropertyType


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


class Source(models.Model):
    """Somewhere events come from, with the write key its SDK sends.

    A rotated key keeps working until `previous_key_expires_at`, so that
    clients can be moved to the new key without losing events.
    """

    name = models.CharField(max_length=100, unique=True)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    previous_write_key = models.CharField(max_length=64, blank=True, db_index=True)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True)
    is_enabled = models.BooleanField(default=True)
    rate_limit_per_second = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per second this source may make; empty for no limit.",
    )
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
    # alias calls' previousId and group calls' groupId.
    previous_id = models.CharField(max_length=255, blank=True)
    group_id = models.CharField(max_length=255, blank=True)
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


class SourceLogEntry(models.Model):
    """Something about a source's traffic its admin should know: a rejected
    event, a phone that made no contact, a refused merge."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="log")
    level = models.CharField(max_length=10, choices=LogLevel.choices)
    code = models.CharField(max_length=50)
    message = models.TextField()
    message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "source log entries"

    def __str__(self) -> str:
        return f"{self.level} {self.code}: {self.message}"


class EventName(models.Model):
    """Every event name seen, for the campaign builder's pick lists."""

    name = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=20, choices=EventType.choices)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PropertyKey(models.Model):
    """Every property key seen, with the type it was first seen with.

    Event properties are kept per event name; contact traits have an empty
    event name.
    """

    scope = models.CharField(max_length=10, choices=PropertyScope.choices)
    event_name = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=255)
    type = models.CharField(max_length=10, choices=PropertyType.choices)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scope", "event_name", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "event_name", "key"], name="property_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name or self.scope}.{self.key} ({self.type})"
