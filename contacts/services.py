"""Writes to contacts, profiles and consent. Each function owns its transaction."""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from contacts import queries
from contacts.choices import Channel, IdentifierKind
from contacts.errors import InvalidIdentityError, InvalidPhoneError
from contacts.models import (
    Contact,
    ContactConsent,
    ContactConsentChange,
    Profile,
    ProfileIdentifier,
)
from contacts.phones import mask_phone, normalize_phone
from contacts.traits import opt_ins, split_traits

logger = logging.getLogger(__name__)

# Placeholders that SDKs and careless integrations send instead of an id. Taking
# them as identities would merge every anonymous visitor into one person.
GENERIC_IDS = frozenset(
    {"", "null", "none", "nil", "undefined", "0", "-1", "anonymous", "guest", "unknown"}
)


@dataclass
class IdentifyResult:
    profile: Profile
    contact: Contact | None
    # True when this call attached the profile to a (new or other) contact.
    contact_changed: bool = False
    warnings: list[str] = field(default_factory=list)


def clean_identifier(value: object) -> str | None:
    """Return the identifier as a string, or None for a missing or generic one."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    if text.lower() in GENERIC_IDS:
        return None
    return text[:255]


def resolve_profile(*, user_id: str | None, anonymous_id: str | None) -> Profile:
    """Find or create the profile these identifiers name, and record both on it.

    An anonymousId first seen on its own joins the profile of the userId sent
    with it. When both ids already belong to different profiles, the userId's
    profile wins and the two are not merged.
    """
    if not user_id and not anonymous_id:
        raise InvalidIdentityError("userId or anonymousId is required")
    with transaction.atomic():
        by_user = (
            queries.get_profile_for_identifier(IdentifierKind.USER_ID, user_id)
            if user_id
            else None
        )
        by_anon = (
            queries.get_profile_for_identifier(
                IdentifierKind.ANONYMOUS_ID, anonymous_id
            )
            if anonymous_id
            else None
        )
        profile = by_user or by_anon or Profile.objects.create()
        if user_id and not by_user:
            add_identifier(profile, kind=IdentifierKind.USER_ID, value=user_id)
        if anonymous_id and not by_anon:
            add_identifier(
                profile, kind=IdentifierKind.ANONYMOUS_ID, value=anonymous_id
            )
    return profile


def add_identifier(profile: Profile, *, kind: IdentifierKind, value: str) -> None:
    _, created = ProfileIdentifier.objects.get_or_create(
        kind=kind, value=value, defaults={"profile": profile}
    )
    if created:
        logger.debug("profile %s: added %s", profile.pk, kind)


def identify_profile(
    profile: Profile, *, traits: dict, source: str, occurred_at: datetime
) -> IdentifyResult:
    """Merge traits into a profile and, when they carry a phone, into its contact.

    A phone seen for the first time makes a contact; a known phone finds its
    contact, whichever profile sent it. A profile that sends a new phone moves
    to the new number's contact; the contact it leaves keeps its history. An
    invalid phone makes no contact and comes back as a warning.
    """
    result = IdentifyResult(profile=profile, contact=None)
    with transaction.atomic():
        profile = queries.profile_for_update(profile.pk)
        result.profile = profile
        profile.traits = {**profile.traits, **traits}
        profile.save(update_fields=["traits", "updated_at"])

        contact = contact_for_traits(traits, warnings=result.warnings)
        if contact and contact.pk != profile.contact_id:
            profile.contact = contact
            profile.save(update_fields=["contact", "updated_at"])
            result.contact_changed = True
            # Everything the profile said before the phone arrived is now the
            # contact's too.
            traits = profile.traits
        result.contact = profile.contact
        if result.contact:
            apply_traits(
                result.contact, traits=traits, source=source, occurred_at=occurred_at
            )
    return result


def contact_for_traits(traits: dict, *, warnings: list[str]) -> Contact | None:
    raw = traits.get("phone")
    if raw in (None, ""):
        return None
    try:
        phone = normalize_phone(raw)
    except InvalidPhoneError as exc:
        warnings.append(exc.message)
        return None
    contact, created = Contact.objects.get_or_create(phone=phone)
    if created:
        logger.info("contact %s created for %s", contact.pk, mask_phone(phone))
    return contact


def get_or_create_contact_for_phone(phone: str) -> Contact:
    """Find or create the contact of an already normalized phone number."""
    contact, created = Contact.objects.get_or_create(phone=phone)
    if created:
        logger.info("contact %s created for %s", contact.pk, mask_phone(phone))
    return contact


def apply_traits(
    contact: Contact, *, traits: dict, source: str, occurred_at: datetime
) -> None:
    """Write traits onto a contact: typed fields, free-form properties, consent.

    Sent keys overwrite, keys not sent are kept.
    """
    fields, properties = split_traits(traits)
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.properties = {**contact.properties, **properties}
    contact.save(update_fields=[*fields, "properties", "updated_at"])
    for item in opt_ins(traits):
        if item["channel"] not in Channel.values:
            continue
        set_consent(
            contact,
            channel=item["channel"],
            subscribed=item["subscribed"],
            source=item.get("source") or source,
            occurred_at=occurred_at,
            text=str(item.get("text") or ""),
        )


def set_consent(
    contact: Contact,
    *,
    channel: str,
    subscribed: bool,
    source: str,
    occurred_at: datetime | None = None,
    ip: str | None = None,
    text: str = "",
) -> bool:
    """Set a contact's consent for a channel, keeping the change in its history.

    Return whether the consent changed. A repeat of the current state changes
    nothing and records nothing.
    """
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        current = (
            ContactConsent.objects.select_for_update()
            .filter(contact=contact, channel=channel)
            .first()
        )
        if current and current.subscribed == subscribed:
            return False
        ContactConsent.objects.update_or_create(
            contact=contact,
            channel=channel,
            defaults={"subscribed": subscribed, "updated_at": occurred_at},
        )
        ContactConsentChange.objects.create(
            contact=contact,
            channel=channel,
            subscribed=subscribed,
            source=source[:255],
            occurred_at=occurred_at,
            ip=ip,
            text=text,
        )
    logger.info(
        "contact %s: %s consent %s by %s",
        contact.pk,
        channel,
        "given" if subscribed else "withdrawn",
        source,
    )
    return True


def attach_new_profile(contact: Contact) -> Profile:
    """Give a contact known only by phone (say, from an inbound SMS) a profile."""
    return Profile.objects.create(contact=contact)
