"""How the traits of identify calls map onto a contact.

A few trait keys are reserved and typed; every other key is kept as a free-form
contact property. Segment's spec names traits in camelCase; snake_case spellings
are accepted too, since integrators write both.

Two shapes carry phones and consent:

- Regal's: `phones` and `emails`, objects keyed by the number or address, each
  with `isPrimary`, `label` and `smsOptIn` / `voiceOptIn` / `emailOptIn`
  holding `{subscribed, timestamp, ip, text, source}`;
- the older flat one: `phone` and `email`, with an `optIn` list of
  `{channel, subscribed, timestamp, ip, text, source}` for those.

Everything here is pure: it reads traits, it touches no database.
"""

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from contacts.choices import Channel

NAME_FIELDS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "timezone": "timezone",
}
# Read by the identity service into typed fields and consent, never stored as
# free-form properties.
RESERVED_KEYS = {*NAME_FIELDS, "phone", "phones", "email", "emails", "optIn", "address"}
OPT_IN_KEYS = {
    "smsOptIn": Channel.SMS,
    "voiceOptIn": Channel.VOICE,
    "emailOptIn": Channel.EMAIL,
}


@dataclass(frozen=True)
class ConsentGrant:
    """Consent given or withdrawn for one channel at one number or address."""

    channel: str
    address: str
    subscribed: bool
    occurred_at: datetime | None = None
    ip: str | None = None
    text: str = ""
    source: str = ""


@dataclass(frozen=True)
class Reachable:
    """A number or e-mail address the traits name, with its label."""

    value: str
    label: str = ""
    is_primary: bool = False


def split_traits(traits: dict) -> tuple[dict, dict]:
    """Split traits into (typed name and timezone fields, free-form properties)."""
    fields: dict = {}
    properties: dict = {}
    for key, value in traits.items():
        if key in NAME_FIELDS:
            fields[NAME_FIELDS[key]] = "" if value is None else str(value)[:150]
        elif key not in RESERVED_KEYS:
            properties[key] = value
    return fields, properties


def phones(traits: dict) -> list[Reachable]:
    """Every phone the traits name, primary first."""
    return reachables(traits, flat_key="phone", keyed_key="phones")


def emails(traits: dict) -> list[Reachable]:
    """Every e-mail address the traits name, primary first."""
    return reachables(traits, flat_key="email", keyed_key="emails")


def reachables(traits: dict, *, flat_key: str, keyed_key: str) -> list[Reachable]:
    found: list[Reachable] = []
    flat = traits.get(flat_key)
    if isinstance(flat, str | int) and not isinstance(flat, bool) and str(flat).strip():
        found.append(Reachable(str(flat).strip(), is_primary=True))
    keyed = traits.get(keyed_key)
    if isinstance(keyed, dict):
        for value, details in keyed.items():
            details = details if isinstance(details, dict) else {}
            found.append(
                Reachable(
                    value=str(value).strip(),
                    label=str(details.get("label") or "")[:50],
                    is_primary=details.get("isPrimary") is True,
                )
            )
    # The flat value, then any marked primary, then the rest in the order sent.
    return sorted(found, key=lambda item: not item.is_primary)


def primary_phone(traits: dict) -> str | None:
    found = phones(traits)
    return found[0].value if found else None


def address(traits: dict) -> dict | None:
    value = traits.get("address")
    return value if isinstance(value, dict) else None


def consent_grants(traits: dict) -> list[ConsentGrant]:
    """Every consent the traits give or withdraw, in both shapes.

    A flat `optIn` item applies to the flat `phone` (sms, voice) or `email`.
    """
    grants = []
    keyed_channels = (
        ("phones", ("smsOptIn", "voiceOptIn")),
        ("emails", ("emailOptIn",)),
    )
    for key, channel_keys in keyed_channels:
        keyed = traits.get(key)
        if not isinstance(keyed, dict):
            continue
        for value, details in keyed.items():
            if not isinstance(details, dict):
                continue
            for opt_in_key in channel_keys:
                channel = OPT_IN_KEYS[opt_in_key]
                grant = read_grant(details.get(opt_in_key), channel, value)
                if grant:
                    grants.append(grant)
    items = traits.get("optIn")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("channel") not in Channel.values:
            continue
        flat_key = "email" if item["channel"] == Channel.EMAIL else "phone"
        grant = read_grant(item, item["channel"], traits.get(flat_key))
        if grant:
            grants.append(grant)
    return grants


def read_grant(raw: object, channel: str, address: object) -> ConsentGrant | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("subscribed"), bool):
        return None
    return ConsentGrant(
        channel=channel,
        address="" if address is None else str(address).strip(),
        subscribed=raw["subscribed"],
        occurred_at=parse_time(raw.get("timestamp")),
        ip=parse_ip(raw.get("ip")),
        text=str(raw.get("text") or ""),
        source=str(raw.get("source") or ""),
    )


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 time, UTC when it has no zone; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_ip(value: object) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if isinstance(value, str) else None
    except ValueError:
        return None
