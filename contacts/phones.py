"""Phone numbers in and out: E.164 for storage, the last four digits for logs."""

import phonenumbers
from django.conf import settings

from contacts.errors import InvalidPhoneError


def normalize_phone(raw: object, *, region: str | None = None) -> str:
    """Return `raw` in E.164, or raise InvalidPhoneError saying why it is not a number.

    National formats are read in `region`, by default DEFAULT_PHONE_REGION.
    Short codes are refused: they reach a service, not a person.
    """
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
        raise InvalidPhoneError("phone must be a non-empty string")
    text = str(raw).strip()
    try:
        number = phonenumbers.parse(text, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"phone {text!r} is not a phone number: {exc}") from exc
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = phonenumbers.national_significant_number(number)
    if len(digits) <= 6:
        raise InvalidPhoneError(
            f"phone {text!r} is a short code, not a person's number"
        )
    raise InvalidPhoneError(f"phone {text!r} is not a valid number")


def mask_phone(phone: str) -> str:
    """Keep the last four digits, for logs."""
    return f"***{phone[-4:]}" if phone else ""
