"""What the campaign builder offers to pick from: the event registry's names and keys.

The registry (events.models.EventName and PropertyKey) records every event
name and property key seen, with the type each key was first seen with. The
builder offers them as suggestions only: an admin may build a campaign before
its first event arrives, so free text stays allowed.
"""

from dataclasses import dataclass

from campaigns.choices import ConditionRole
from campaigns.conditions import Subject, ValueType
from campaigns.models import Campaign, CampaignExit
from events import queries as event_queries
from events.choices import PropertyScope, PropertyType

# Contact conditions read these typed fields next to the free-form traits
# (conditions.contact_data); they are offered even before any identify call.
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "timezone")


@dataclass(frozen=True)
class KeyOption:
    """One suggestion for a condition key: the key and what it is."""

    key: str
    label: str


def event_name_options() -> list[str]:
    """The event names seen, for trigger, goal, exit and branch events."""
    return event_queries.list_event_names()


def condition_key_options(campaign: Campaign | None) -> list[KeyOption]:
    """The keys a condition of this campaign may read, labelled with their type.

    Event keys of the trigger and exit events (of every event seen while the
    campaign is not saved yet), then the contact's fields and traits.
    """
    event_names = None
    if campaign is not None and campaign.pk is not None:
        event_names = {campaign.trigger_event}
        event_names.update(campaign.exits.values_list("event_name", flat=True))
    options = [
        KeyOption(
            key.key,
            f"{key.event_name} property, {PropertyType(key.type).label.lower()}",
        )
        for key in event_queries.list_property_keys(
            scope=PropertyScope.EVENT, event_names=event_names
        )
    ]
    options += [KeyOption(field, "contact field, text") for field in CONTACT_FIELDS]
    options += [
        KeyOption(key.key, f"contact trait, {PropertyType(key.type).label.lower()}")
        for key in event_queries.list_property_keys(scope=PropertyScope.CONTACT)
        if key.key not in CONTACT_FIELDS
    ]
    return options


def condition_event_name(
    campaign: Campaign, *, role: str, exit_rule: CampaignExit | None
) -> str:
    """The event whose properties an event condition of this role reads.

    Exit conditions read the exit event; trigger and branch conditions read
    the trigger event.
    """
    if role == ConditionRole.EXIT and exit_rule is not None:
        return exit_rule.event_name
    return campaign.trigger_event


def registry_value_type(*, subject: str, key: str, event_name: str) -> str | None:
    """The type to compare a key as, from the registry; None if unknown or not
    comparable (an object, a list, null)."""
    if subject == Subject.EVENT:
        found = event_queries.get_property_type(
            scope=PropertyScope.EVENT, event_name=event_name, key=key
        )
    elif subject == Subject.CONTACT:
        found = event_queries.get_property_type(
            scope=PropertyScope.CONTACT, event_name="", key=key
        )
    else:
        return None
    return found if found in ValueType.values else None
