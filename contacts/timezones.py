"""Which time zones a contact's clock may be in, from what the brand told us.

Quiet hours are judged on the contact's own clock, so when we are unsure of
the zone we return every zone the contact may be in and the caller only sends
when all of them are inside the window. Sources, most trusted first: the
`timezone` field, the address (state, then country), the phone number, and at
last REGAL_DEFAULT_TIME_ZONE.

Countries map to zones through the IANA tz database's own table
(zone1970.tab), read from the `tzdata` package so the table is the same on
every machine and moves with `pip install -U tzdata`.
"""

import functools
import importlib.resources
import re
import zoneinfo
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from phonenumbers import timezone as phone_timezones

DEFAULT_TIME_ZONE = "America/New_York"

# Names zoneinfo can load that say nothing about where a person is.
MEANINGLESS_ZONES = {"Etc/Unknown", "Factory", "localtime", "posixrules"}

# Spellings brands send that are neither ISO 3166 codes nor the tz table's
# country names ("United States", "Britain (UK)").
COUNTRY_ALIASES = {
    "usa": "US",
    "united states of america": "US",
    "uk": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
}

EASTERN = "America/New_York"
CENTRAL = "America/Chicago"
MOUNTAIN = "America/Denver"
ARIZONA = "America/Phoenix"
PACIFIC = "America/Los_Angeles"
ALASKA = "America/Anchorage"
ALEUTIAN = "America/Adak"
HAWAII = "Pacific/Honolulu"

# Every zone whose clock is in use somewhere in the state today (including
# counties that keep a neighbour's time, such as Florida's panhandle or the
# Navajo Nation in Arizona), so a state never narrows the answer wrongly.
US_STATE_ZONES = {
    "AL": ("alabama", (CENTRAL,)),
    "AK": ("alaska", (ALASKA, ALEUTIAN)),
    "AZ": ("arizona", (ARIZONA, MOUNTAIN)),
    "AR": ("arkansas", (CENTRAL,)),
    "CA": ("california", (PACIFIC,)),
    "CO": ("colorado", (MOUNTAIN,)),
    "CT": ("connecticut", (EASTERN,)),
    "DE": ("delaware", (EASTERN,)),
    "DC": ("district of columbia", (EASTERN,)),
    "FL": ("florida", (EASTERN, CENTRAL)),
    "GA": ("georgia", (EASTERN,)),
    "HI": ("hawaii", (HAWAII,)),
    "ID": ("idaho", (MOUNTAIN, PACIFIC)),
    "IL": ("illinois", (CENTRAL,)),
    "IN": ("indiana", (EASTERN, CENTRAL)),
    "IA": ("iowa", (CENTRAL,)),
    "KS": ("kansas", (CENTRAL, MOUNTAIN)),
    "KY": ("kentucky", (EASTERN, CENTRAL)),
    "LA": ("louisiana", (CENTRAL,)),
    "ME": ("maine", (EASTERN,)),
    "MD": ("maryland", (EASTERN,)),
    "MA": ("massachusetts", (EASTERN,)),
    "MI": ("michigan", (EASTERN, CENTRAL)),
    "MN": ("minnesota", (CENTRAL,)),
    "MS": ("mississippi", (CENTRAL,)),
    "MO": ("missouri", (CENTRAL,)),
    "MT": ("montana", (MOUNTAIN,)),
    "NE": ("nebraska", (CENTRAL, MOUNTAIN)),
    "NV": ("nevada", (PACIFIC, MOUNTAIN)),
    "NH": ("new hampshire", (EASTERN,)),
    "NJ": ("new jersey", (EASTERN,)),
    "NM": ("new mexico", (MOUNTAIN,)),
    "NY": ("new york", (EASTERN,)),
    "NC": ("north carolina", (EASTERN,)),
    "ND": ("north dakota", (CENTRAL, MOUNTAIN)),
    "OH": ("ohio", (EASTERN,)),
    "OK": ("oklahoma", (CENTRAL,)),
    "OR": ("oregon", (PACIFIC, MOUNTAIN)),
    "PA": ("pennsylvania", (EASTERN,)),
    "RI": ("rhode island", (EASTERN,)),
    "SC": ("south carolina", (EASTERN,)),
    "SD": ("south dakota", (CENTRAL, MOUNTAIN)),
    "TN": ("tennessee", (EASTERN, CENTRAL)),
    "TX": ("texas", (CENTRAL, MOUNTAIN)),
    "UT": ("utah", (MOUNTAIN,)),
    "VT": ("vermont", (EASTERN,)),
    "VA": ("virginia", (EASTERN,)),
    "WA": ("washington", (PACIFIC,)),
    "WV": ("west virginia", (EASTERN,)),
    "WI": ("wisconsin", (CENTRAL,)),
    "WY": ("wyoming", (MOUNTAIN,)),
    # Territories have ISO codes of their own, but US addresses name them as
    # states.
    "AS": ("american samoa", ("Pacific/Pago_Pago",)),
    "GU": ("guam", ("Pacific/Guam",)),
    "MP": ("northern mariana islands", ("Pacific/Saipan",)),
    "PR": ("puerto rico", ("America/Puerto_Rico",)),
    "VI": ("virgin islands", ("America/St_Thomas",)),
}

STATE_ZONES = {"US": US_STATE_ZONES}


def contact_zones(contact) -> list[ZoneInfo]:
    """Return the zones the contact's clock may be in, never an empty list.

    The first source that names a zone wins: a valid IANA `timezone` (any
    case); the address's state, where the country has a state table (the
    United States), else the address's country; the phone number's area
    (a toll-free or mobile range may give many zones), else its country; the
    REGAL_DEFAULT_TIME_ZONE setting. An address without a country is read in
    the phone number's country. Several zones come sorted by name, without
    duplicates. Reads only the contact's `timezone`, `address` and `phone`.
    """
    zone = zone_named(getattr(contact, "timezone", ""))
    if zone:
        return [zone]

    phone = _parse_phone(getattr(contact, "phone", ""))
    phone_country = phonenumbers.region_code_for_number(phone) if phone else None
    zones = address_zones(getattr(contact, "address", None), country=phone_country)
    if zones:
        return zones

    zones = phone_zones(phone) if phone else []
    if zones:
        return zones

    return [ZoneInfo(getattr(settings, "REGAL_DEFAULT_TIME_ZONE", DEFAULT_TIME_ZONE))]


def zone_named(name: object) -> ZoneInfo | None:
    """Return the IANA zone called `name`, ignoring case, or None."""
    if not isinstance(name, str):
        return None
    key = _zone_keys().get(name.strip().casefold())
    return ZoneInfo(key) if key else None


def address_zones(address: object, *, country: str | None = None) -> list[ZoneInfo]:
    """Return the zones an address lies in, or [] when it cannot say.

    `country` (ISO 3166 alpha-2) stands in for an address that names none.
    A state the country's table does not know gives the whole country.
    """
    if not isinstance(address, dict):
        return []
    named_country = address.get("country")
    if _has_text(named_country):
        country = country_code(named_country)
    if not country:
        return []

    states = STATE_ZONES.get(country, {})
    state = _state_code(address.get("state"), states)
    if state:
        return _zones(states[state][1])
    if not _has_text(named_country):
        # Only the phone said which country; its area code is more precise
        # than the whole country.
        return []
    return _zones(country_zone_names().get(country, ()))


# North American toll-free numbers belong to no place. phonenumbers gives them
# every zone of the numbering plan, Guam's and Samoa's included, and no hour
# of a summer day is 9:00-20:00 in all of those. The people who hold them live
# in the United States and Canada, so those countries' zones are the ones to
# respect.
NANP_TOLL_FREE_COUNTRIES = ("US", "CA")


def phone_zones(number: phonenumbers.PhoneNumber) -> list[ZoneInfo]:
    """Return the zones a number's range is used in, else its country's zones."""
    if (
        number.country_code == 1
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE
    ):
        table = country_zone_names()
        return _zones(
            name for country in NANP_TOLL_FREE_COUNTRIES for name in table[country]
        )
    names = set(phone_timezones.time_zones_for_number(number)) - MEANINGLESS_ZONES
    if names:
        return _zones(names)
    country = phonenumbers.region_code_for_number(number)
    return _zones(country_zone_names().get(country, ()))


def country_code(name: object) -> str | None:
    """Return the ISO 3166 alpha-2 code for a country code or name, or None.

    Knows the codes and English names of the tz database's iso3166.tab and a
    few common other spellings ("USA", "UK"); ignores case and dots.
    """
    if not isinstance(name, str):
        return None
    text = re.sub(r"\s+", " ", name.replace(".", "")).strip().casefold()
    return COUNTRY_ALIASES.get(text) or _country_codes().get(text)


@functools.cache
def country_zone_names() -> dict[str, tuple[str, ...]]:
    """Map each ISO 3166 alpha-2 code to the tz zones used in that country."""
    zones: dict[str, list[str]] = {}
    for countries, _coordinates, zone, *_comment in _tz_table("zone1970.tab"):
        for country in countries.split(","):
            zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


@functools.cache
def _country_codes() -> dict[str, str]:
    codes = {}
    for code, name in _tz_table("iso3166.tab"):
        codes[code.casefold()] = code
        codes[name.casefold()] = code
    return codes


@functools.cache
def _zone_keys() -> dict[str, str]:
    keys = zoneinfo.available_timezones() - MEANINGLESS_ZONES
    return {key.casefold(): key for key in keys}


def _tz_table(name: str) -> list[list[str]]:
    text = importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text()
    return [
        line.split("\t")
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _state_code(state: object, states: dict) -> str | None:
    if not states or not isinstance(state, str):
        return None
    text = re.sub(r"\s+", " ", state.replace(".", "")).strip().casefold()
    for code, (name, _zones) in states.items():
        if text in (code.casefold(), name):
            return code
    return None


def _parse_phone(phone: object) -> phonenumbers.PhoneNumber | None:
    if not isinstance(phone, str) or not phone.strip():
        return None
    try:
        return phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None


def _zones(names: Iterable[str]) -> list[ZoneInfo]:
    # A name this machine's zone files lack (an older system tzdata than the
    # table's) is dropped rather than failing the whole contact.
    zones = [zone_named(name) for name in sorted(set(names))]
    return [zone for zone in zones if zone]


def _has_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
