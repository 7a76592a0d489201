"""Builders for test data: plain functions, each taking overrides."""

import itertools
from datetime import time, timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token

from campaigns.choices import CampaignStatus, StepKind
from campaigns.models import Campaign, CampaignExit, CampaignStep
from contacts import services as contact_services
from contacts.choices import Channel, IdentifierKind
from contacts.models import Contact, Profile, ProfileIdentifier
from events.choices import EventType
from events.models import Event, Source

_numbers = itertools.count(1)


def next_phone() -> str:
    """A distinct valid US number for each call (415-555-01xx is not valid)."""
    return f"+1415555{next(_numbers) % 10000:04d}"


def make_source(**overrides) -> Source:
    fields = {"name": f"source-{next(_numbers)}", **overrides}
    return Source.objects.create(**fields)


def make_contact(
    *,
    sms_consent: bool | None = None,
    voice_consent: bool | None = None,
    **overrides,
) -> Contact:
    fields = {"phone": next_phone(), **overrides}
    contact = Contact.objects.create(**fields)
    for channel, consent in (
        (Channel.SMS, sms_consent),
        (Channel.VOICE, voice_consent),
    ):
        if consent is not None:
            contact_services.set_consent(
                contact, channel=channel, subscribed=consent, source="test"
            )
    return contact


def make_campaign(
    *,
    wait: timedelta | None = timedelta(minutes=30),
    body: str = "Hi {{ contact.first_name }}, finish your application",
    exit_event: str | None = "Application Completed",
    **overrides,
) -> Campaign:
    """A live campaign: an optional wait, then an SMS.

    No quiet hours (start equals end) unless a test sets them, so that what
    a test sees does not depend on the hour it runs at.
    """
    fields = {
        "name": f"campaign-{next(_numbers)}",
        "status": CampaignStatus.LIVE,
        "trigger_event": "Application Started",
        "quiet_hours_start": time(0),
        "quiet_hours_end": time(0),
        **overrides,
    }
    campaign = Campaign.objects.create(**fields)
    if exit_event:
        CampaignExit.objects.create(campaign=campaign, event_name=exit_event)
    position = 0
    if wait is not None:
        CampaignStep.objects.create(
            campaign=campaign, position=position, kind=StepKind.WAIT, wait=wait
        )
        position += 1
    CampaignStep.objects.create(
        campaign=campaign, position=position, kind=StepKind.SEND_SMS, body=body
    )
    return campaign


def make_event(contact: Contact | None = None, **overrides) -> Event:
    """A stored track event, by default of the contact's (new) profile."""
    now = timezone.now()
    profile = overrides.pop("profile", None) or Profile.objects.create(contact=contact)
    fields = {
        "source": overrides.pop("source", None) or make_source(),
        "message_id": f"message-{next(_numbers)}",
        "type": EventType.TRACK,
        "name": "Application Started",
        "user_id": f"user-{next(_numbers)}",
        "profile": profile,
        "contact": contact,
        "timestamp": now,
        "received_at": now,
        **overrides,
    }
    return Event.objects.create(**fields)


def make_profile(contact: Contact | None = None, *, user_id: str = "") -> Profile:
    """A profile of the contact, known by `user_id` when one is given."""
    profile = Profile.objects.create(contact=contact)
    if user_id:
        ProfileIdentifier.objects.create(
            profile=profile, kind=IdentifierKind.USER_ID, value=user_id
        )
    return profile


def make_api_token(*, is_staff: bool = False) -> Token:
    """An API token of a new user, as an admin makes one for an integrator."""
    user = User.objects.create_user(
        username=f"integrator-{next(_numbers)}", is_staff=is_staff
    )
    return Token.objects.create(user=user)
