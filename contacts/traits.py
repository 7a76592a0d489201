"""How the traits of identify calls map onto a contact.

A few trait keys are reserved and typed; every other key is kept as a free-form
contact property. Segment's spec names traits in camelCase; snake_case spellings
are accepted too, since integrators write both.
"""

RESERVED_FIELDS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "email": "email",
    "timezone": "timezone",
}
# Identity and consent: read by the identity service, never stored as properties.
IDENTITY_KEYS = {"phone", "optIn"}


def split_traits(traits: dict) -> tuple[dict, dict]:
    """Split traits into (reserved contact fields, free-form properties)."""
    fields: dict = {}
    properties: dict = {}
    for key, value in traits.items():
        if key in IDENTITY_KEYS:
            continue
        if key in RESERVED_FIELDS:
            fields[RESERVED_FIELDS[key]] = "" if value is None else str(value)[:255]
        else:
            properties[key] = value
    return fields, properties


def opt_ins(traits: dict) -> list[dict]:
    """Return the well-formed `{channel, subscribed}` items of traits.optIn."""
    items = traits.get("optIn")
    if not isinstance(items, list):
        return []
    return [
        item
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("channel"), str)
        and isinstance(item.get("subscribed"), bool)
    ]
