"""Writes to contacts, profiles and consent. Each function owns its transaction."""

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email
from django.db import transaction
from django.utils import timezone

from contacts import queries
from contacts import traits as trait_rules
from contacts.choices import Channel, IdentifierKind
from contacts.errors import InvalidIdentityError, InvalidPhoneError
from contacts.models import (
    Contact,
    ContactConsent,
    ContactConsentChange,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
)
from contacts.phones import mask_phone, normalize_phone

logger = logging.getLogger(__name__)

EMAIL_MAX_LENGTH = Contact._meta.get_field("email").max_length

# Placeholders that SDKs and careless integrations send instead of an id. Taking
# them as identities would merge every anonymous visitor into one person.
GENERIC_IDS = frozenset(
    {"", "null", "none", "nil", "undefined", "0", "-1", "anonymous", "guest", "unknown"}
)


@dataclass(frozen=True)
class IdentityWarning:
    """Something in a call that was kept but not used, with a stable code."""

    code: str
    message: str


@dataclass
class Resolution:
    """The profile a call is about, and what resolving it did or refused."""

    profile: Profile
    # Profiles merged into `profile` by this call.
    merged: list[int] = field(default_factory=list)
    warnings: list[IdentityWarning] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentChange:
    channel: str
    address: str
    subscribed: bool


@dataclass
class IdentifyResult:
    profile: Profile
    contact: Contact | None
    # True when this call attached the profile to a (new or other) contact.
    contact_changed: bool = False
    contact_created: bool = False
    consent_changes: list[ConsentChange] = field(default_factory=list)
    warnings: list[IdentityWarning] = field(default_factory=list)


def clean_identifier(value: object) -> str | None:
    """Return the identifier as a string, or None for a missing or generic one."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    if text.lower() in GENERIC_IDS:
        return None
    return text[:255]


def resolve_profile(
    *, user_id: str | None, anonymous_id: str | None, cause: str = "identify"
) -> Resolution:
    """Find or create the profile these identifiers name, and record both on it.

    An id not yet known joins the profile the other id names, except that a
    new userId never joins another user's profile. When the two ids name
    different profiles and one of them is only anonymous, it merges into the
    other; two profiles that both have a userId are never merged: the
    userId's profile is used and the refusal is recorded.
    """
    if not user_id and not anonymous_id:
        raise InvalidIdentityError("userId or anonymousId is required")
    with transaction.atomic():
        by_user = find_profile(IdentifierKind.USER_ID, user_id)
        by_anon = find_profile(IdentifierKind.ANONYMOUS_ID, anonymous_id)
        if user_id and not by_user and belongs_to_a_user(by_anon):
            # Another user's anonymousId (two people on one browser): joining
            # this userId to that profile would give this person's events to
            # the other's contact. The user gets a profile of their own, and
            # the join is refused below like any other between two users.
            by_user = Profile.objects.create()
            add_identifier(by_user, kind=IdentifierKind.USER_ID, value=user_id)
        profile = by_user or by_anon or Profile.objects.create()
        resolution = Resolution(profile=profile)
        if by_user and by_anon and by_user.pk != by_anon.pk:
            join_profiles(by_user, by_anon, cause=cause, resolution=resolution)
        if user_id and not by_user:
            add_identifier(profile, kind=IdentifierKind.USER_ID, value=user_id)
        if anonymous_id and not by_anon:
            add_identifier(
                profile, kind=IdentifierKind.ANONYMOUS_ID, value=anonymous_id
            )
    return resolution


def belongs_to_a_user(profile: Profile | None) -> bool:
    return profile is not None and queries.profile_has_user_id(profile.pk)


def find_profile(kind: IdentifierKind, value: str | None) -> Profile | None:
    if not value:
        return None
    return queries.get_profile_for_identifier(kind, value)


def alias_profile(profile: Profile, *, previous_id: str, cause: str) -> Resolution:
    """Make `previous_id` (an anonymousId or an earlier userId) name this profile.

    An alias is the brand saying, explicitly, that two ids are one person:
    the profile `previous_id` names merges into this one even when both
    have a userId, and the merge is recorded with its cause.
    """
    resolution = Resolution(profile=profile)
    other = find_profile(IdentifierKind.ANONYMOUS_ID, previous_id) or find_profile(
        IdentifierKind.USER_ID, previous_id
    )
    if other is None:
        add_identifier(profile, kind=IdentifierKind.ANONYMOUS_ID, value=previous_id)
    elif other.pk != profile.pk:
        join_profiles(profile, other, cause=cause, resolution=resolution, explicit=True)
    return resolution


def join_profiles(
    into: Profile,
    other: Profile,
    *,
    cause: str,
    resolution: Resolution,
    explicit: bool = False,
) -> None:
    if not explicit and queries.profile_has_user_id(other.pk):
        ProfileMerge.objects.create(
            into_profile=into,
            other_profile_id=other.pk,
            outcome=ProfileMerge.Outcome.REFUSED,
            cause=f"{cause}: both profiles have a userId",
        )
        resolution.warnings.append(
            IdentityWarning(
                "merge_refused",
                f"not merged: profile {other.pk} already belongs to another userId",
            )
        )
        logger.warning(
            "refused to merge identified profiles %s and %s", into.pk, other.pk
        )
        return
    merge_profiles(into, other, cause=cause)
    resolution.merged.append(other.pk)


def merge_profiles(into: Profile, other: Profile, *, cause: str) -> None:
    """Make `other` part of `into`: its identifiers and traits move over.

    `into`'s traits win where both have a key. Its events keep `other` as
    the profile that sent them; the caller gives them `into`'s contact.
    """
    with transaction.atomic():
        identifiers = list(
            ProfileIdentifier.objects.filter(profile=other).values_list("kind", "value")
        )
        ProfileIdentifier.objects.filter(profile=other).update(profile=into)
        into.traits = {**other.traits, **into.traits}
        if into.contact_id is None:
            into.contact_id = other.contact_id
        into.save(update_fields=["traits", "contact", "updated_at"])
        other.merged_into = into
        other.save(update_fields=["merged_into", "updated_at"])
        ProfileMerge.objects.create(
            into_profile=into,
            other_profile_id=other.pk,
            outcome=ProfileMerge.Outcome.MERGED,
            cause=cause,
            identifiers=[f"{kind}={value}" for kind, value in identifiers],
        )
    logger.info("profile %s merged into %s: %s", other.pk, into.pk, cause)


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
        left_contact_id = profile.contact_id
        profile.traits = {**profile.traits, **traits}
        profile.save(update_fields=["traits", "updated_at"])

        contact, result.contact_created = contact_for_traits(
            traits, warnings=result.warnings
        )
        if contact and contact.pk != profile.contact_id:
            profile.contact = contact
            profile.save(update_fields=["contact", "updated_at"])
            result.contact_changed = True
            # Everything the profile said before the phone arrived is now the
            # contact's too, except a flat optIn it sent while it had another
            # number: that was consent for that number, not for this one.
            carried = profile.traits
            if left_contact_id is not None and "optIn" not in traits:
                carried = {k: v for k, v in carried.items() if k != "optIn"}
            traits = carried
        result.contact = profile.contact
        if result.contact:
            result.warnings += apply_traits(
                result.contact,
                traits=traits,
                source=source,
                occurred_at=occurred_at,
                consent_changes=result.consent_changes,
            )
    return result


def contact_for_traits(
    traits: dict, *, warnings: list[IdentityWarning]
) -> tuple[Contact | None, bool]:
    """The contact of the traits' primary phone, and whether it was just made."""
    raw = trait_rules.primary_phone(traits)
    if raw is None:
        return None, False
    try:
        phone = normalize_phone(raw)
    except InvalidPhoneError as exc:
        warnings.append(IdentityWarning("contact_not_created", exc.message))
        return None, False
    return find_or_create_contact(phone)


def get_or_create_contact_for_phone(phone: str) -> Contact:
    """Find or create the contact of an already normalized phone number."""
    return find_or_create_contact(phone)[0]


def find_or_create_contact(phone: str) -> tuple[Contact, bool]:
    """The contact of an already normalized phone, and whether it was just made."""
    contact, created = Contact.objects.get_or_create(phone=phone)
    if created:
        logger.info("contact %s created for %s", contact.pk, mask_phone(phone))
    return contact, created


def attach_new_profile(contact: Contact) -> Profile:
    """Give a contact known only by phone (say, from an inbound SMS) a profile."""
    return Profile.objects.create(contact=contact)


def apply_traits(
    contact: Contact,
    *,
    traits: dict,
    source: str,
    occurred_at: datetime,
    consent_changes: list[ConsentChange] | None = None,
) -> list[IdentityWarning]:
    """Write traits onto a contact: typed fields, properties, numbers, consent.

    Sent keys overwrite, keys not sent are kept. Return warnings for values
    that were not used; consent that changed is added to `consent_changes`.
    """
    warnings: list[IdentityWarning] = []
    fields, properties = trait_rules.split_traits(traits)
    if "timezone" in fields and not valid_timezone(fields["timezone"]):
        name = fields.pop("timezone")
        warnings.append(
            IdentityWarning("invalid_timezone", f"{name!r} is not an IANA time zone")
        )
    fields.update(reachable_fields(contact, traits, warnings=warnings))
    address = trait_rules.address(traits)
    if address is not None:
        fields["address"] = address
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.properties = {**contact.properties, **properties}
    contact.save(update_fields=[*fields, "properties", "updated_at"])

    for grant in trait_rules.consent_grants(traits):
        # A flat optIn sent without its phone or email is for the contact's own.
        raw_address = grant.address or contact.consent_address(grant.channel)
        consent_address = normalize_address(grant.channel, raw_address, warnings)
        if consent_address is None:
            continue
        changed = set_consent(
            contact,
            channel=grant.channel,
            subscribed=grant.subscribed,
            source=grant.source or source,
            occurred_at=grant.occurred_at or occurred_at,
            address=consent_address,
            ip=grant.ip,
            text=grant.text,
        )
        if changed and consent_changes is not None:
            consent_changes.append(
                ConsentChange(grant.channel, consent_address, grant.subscribed)
            )
    return warnings


def reachable_fields(
    contact: Contact, traits: dict, *, warnings: list[IdentityWarning]
) -> dict:
    """The typed email, phones and emails fields that traits set."""
    fields: dict = {}
    found_phones = [
        {"value": phone, "label": item.label, "is_primary": phone == contact.phone}
        for item in trait_rules.phones(traits)
        if (phone := normalize_address(Channel.SMS, item.value, warnings))
    ]
    if found_phones:
        fields["phones"] = found_phones
    found_emails = [
        {"value": email, "label": item.label, "is_primary": item.is_primary}
        for item in trait_rules.emails(traits)
        if (email := normalize_address(Channel.EMAIL, item.value, warnings))
    ]
    if found_emails:
        fields["emails"] = found_emails
        fields["email"] = found_emails[0]["value"]
    return fields


def normalize_address(
    channel: str, value: str, warnings: list[IdentityWarning]
) -> str | None:
    """A phone in E.164 or a lower-cased e-mail; None, with a warning, if bad."""
    if channel == Channel.EMAIL:
        email = value.strip().lower()
        try:
            validate_email(email)
            # validate_email lets through 320 characters; Contact.email, like
            # RFC 5321, holds 254, and a longer one failed the whole request.
            MaxLengthValidator(EMAIL_MAX_LENGTH)(email)
        except ValidationError:
            warnings.append(
                IdentityWarning("invalid_email", f"{value!r} is not an e-mail address")
            )
            return None
        return email
    try:
        return normalize_phone(value)
    except InvalidPhoneError as exc:
        warnings.append(IdentityWarning("invalid_phone", exc.message))
        return None


def valid_timezone(name: str) -> bool:
    if not name:
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def set_consent(
    contact: Contact,
    *,
    channel: str,
    subscribed: bool,
    source: str,
    occurred_at: datetime | None = None,
    address: str | None = None,
    ip: str | None = None,
    text: str = "",
) -> bool:
    """Set a contact's consent for a channel, keeping the change in its history.

    `address` is the number or e-mail address the consent is for; by default
    the contact's own for that channel. Return whether the consent changed.
    A repeat of the current state changes nothing and records nothing.
    """
    occurred_at = occurred_at or timezone.now()
    address = address or contact.consent_address(channel)
    with transaction.atomic():
        current = (
            ContactConsent.objects.select_for_update()
            .filter(contact=contact, channel=channel, address=address)
            .first()
        )
        if current and current.subscribed == subscribed:
            return False
        ContactConsent.objects.update_or_create(
            contact=contact,
            channel=channel,
            address=address,
            defaults={"subscribed": subscribed, "updated_at": occurred_at},
        )
        ContactConsentChange.objects.create(
            contact=contact,
            channel=channel,
            address=address,
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


def update_contact_properties(
    contact: Contact, *, properties: dict, source: str
) -> None:
    """Set free-form properties on a contact; sent keys overwrite, others stay."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        contact.properties = {**contact.properties, **properties}
        contact.save(update_fields=["properties", "updated_at"])
    logger.info(
        "contact %s: %d properties set by %s", contact.pk, len(properties), source
    )
