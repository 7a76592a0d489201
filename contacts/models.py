from django.db import models

from contacts.choices import Channel, IdentifierKind


class Contact(models.Model):
    """A person the brand can reach: one per phone number, kept in E.164."""

    phone = models.CharField(max_length=20, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    # {"street", "city", "state", "postalCode", "country"}, as the brand sent it.
    address = models.JSONField(default=dict, blank=True)
    # The person's other numbers and addresses: [{"value", "label", "is_primary"}].
    phones = models.JSONField(default=list, blank=True)
    emails = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    def consent_address(self, channel: str) -> str:
        """The number or address a channel reaches this contact at."""
        return self.email if channel == Channel.EMAIL else self.phone

    def has_consent(self, channel: str) -> bool:
        return self.consents.filter(
            channel=channel, address=self.consent_address(channel), subscribed=True
        ).exists()

    def has_opted_out(self, channel: str) -> bool:
        """Whether the contact said no (STOP, say): stronger than never saying yes."""
        return self.consents.filter(
            channel=channel, address=self.consent_address(channel), subscribed=False
        ).exists()


class Profile(models.Model):
    """What the brand told us about one person, before and after a phone is known.

    `contact` is the contact of the phone the profile last gave; a profile
    whose person changes phone moves to the new contact, and the old contact
    keeps the events stored while it was current.
    """

    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="profiles",
    )
    traits = models.JSONField(default=dict, blank=True)
    # Set when this profile was found to be another one's person; its
    # identifiers moved there, its events keep pointing here as sent.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile {self.pk}"


class ProfileIdentifier(models.Model):
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="identifiers"
    )
    kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"], name="profile_identifier_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class ContactConsent(models.Model):
    """The current consent of a contact for one channel at one number or address.

    A contact is one phone, but a person may give consent for other numbers
    and e-mail addresses too; each keeps its own consent.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consents"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=255)
    subscribed = models.BooleanField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel", "address"],
                name="contact_consent_unique",
            ),
        ]

    def __str__(self) -> str:
        state = "subscribed" if self.subscribed else "unsubscribed"
        return f"{self.channel}: {state}"


class ContactConsentChange(models.Model):
    """One change of consent, kept for good: who or what changed it, and when."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consent_changes"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=255)
    subscribed = models.BooleanField()
    source = models.CharField(max_length=255)
    occurred_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        state = "subscribed" if self.subscribed else "unsubscribed"
        return f"{self.channel} {state} by {self.source}"


class ProfileMerge(models.Model):
    """Two profiles found to be one person, or a merge refused, and why.

    Kept for good: a merge moves identifiers and events, and an operator
    must be able to see which call caused it.
    """

    class Outcome(models.TextChoices):
        MERGED = "merged", "Merged"
        REFUSED = "refused", "Refused"

    into_profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="merges"
    )
    # The profile that was merged away (deleted) or that a refusal left apart.
    other_profile_id = models.BigIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    cause = models.CharField(max_length=255)
    identifiers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.outcome} profile {self.other_profile_id}: {self.cause}"
