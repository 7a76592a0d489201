import json
from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTransform

from contacts.choices import IdentifierKind
from contacts.models import Contact, ContactConsent, Profile, ProfileIdentifier


def get_contact(contact_id: int) -> Contact | None:
    return Contact.objects.filter(pk=contact_id).first()


def get_contact_by_phone(phone: str) -> Contact | None:
    return Contact.objects.filter(phone=phone).first()


def get_profile_for_identifier(kind: IdentifierKind, value: str) -> Profile | None:
    identifier = (
        ProfileIdentifier.objects.select_related("profile")
        .filter(kind=kind, value=value)
        .first()
    )
    return identifier.profile if identifier else None


def profile_for_update(profile_id: int) -> Profile:
    """Lock a profile row for the rest of the transaction."""
    return Profile.objects.select_for_update().get(pk=profile_id)


def profile_has_user_id(profile_id: int) -> bool:
    return ProfileIdentifier.objects.filter(
        profile_id=profile_id, kind=IdentifierKind.USER_ID
    ).exists()


def list_contacts(
    *,
    phone: str | None = None,
    email: str | None = None,
    user_id: str | None = None,
    properties: Iterable[tuple[str, str]] = (),
) -> QuerySet[Contact]:
    """Return the contacts that match every filter given, newest first.

    `phone` is E.164 already. `user_id` finds the contact its profile belongs
    to now, not the contacts of phones it gave before. Each `(key, value)` of
    `properties` matches a property equal to `value` as a string or to the JSON
    scalar it spells, so `("age", "42")` finds 42 and "42".
    """
    contacts = Contact.objects.order_by("-id")
    if phone is not None:
        contacts = contacts.filter(phone=phone)
    if email is not None:
        contacts = contacts.filter(email__iexact=email)
    if user_id is not None:
        contacts = contacts.filter(
            profiles__identifiers__kind=IdentifierKind.USER_ID,
            profiles__identifiers__value=user_id,
        )
    for index, (key, value) in enumerate(properties):
        # KeyTransform takes the key whole, so a key such as "a__b" or
        # "contains" is a key, never a path or a lookup.
        alias = f"property_{index}"
        matches = Q()
        for candidate in property_values(value):
            matches |= Q(**{alias: candidate})
        contacts = contacts.alias(**{alias: KeyTransform(key, "properties")}).filter(
            matches
        )
    return contacts


def property_values(raw: str) -> list[object]:
    """The values a `key:value` filter accepts: the text, and the scalar it spells."""
    values: list[object] = [raw]
    try:
        parsed = json.loads(raw)
    except ValueError:
        return values
    if isinstance(parsed, bool | int | float) and not isinstance(parsed, str):
        values.append(parsed)
    return values


def get_contact_with_consent(contact_id: int) -> Contact | None:
    """Return a contact with its consents and their history loaded, or None."""
    return (
        Contact.objects.filter(pk=contact_id)
        .prefetch_related(
            Prefetch("consents", queryset=ContactConsent.objects.order_by("channel")),
            "consent_changes",
        )
        .first()
    )


def contact_exists(contact_id: int) -> bool:
    return Contact.objects.filter(pk=contact_id).exists()
