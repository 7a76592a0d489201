from contacts.choices import IdentifierKind
from contacts.models import Contact, Profile, ProfileIdentifier


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
