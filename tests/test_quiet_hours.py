"""Quiet hours: which zones a contact is in, and when its clock allows a send.

Pure tests: contacts are unsaved model instances, nothing touches the database.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.quiet_hours import (
    DEFAULT_WINDOW,
    NoAllowedTimeError,
    Window,
    is_allowed,
    next_allowed,
    validate_window,
    validity_period_seconds,
    window_closes,
)
from contacts.models import Contact
from contacts.timezones import contact_zones

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
HONOLULU = ZoneInfo("Pacific/Honolulu")
SHANGHAI = ZoneInfo("Asia/Shanghai")

NY_PHONE = "+12125551234"
TOLL_FREE = "+18005551234"
UK_PHONE = "+442079460000"
WEEKDAYS_ONLY = Window(time(9), time(17), weekdays=frozenset(range(5)))

# For the properties below: offsets of :30 and :45, a half-hour daylight saving
# (Lord Howe), changes at midnight (Santiago) and one suspended for Ramadan
# (Casablanca).
AWKWARD_ZONES = [
    NEW_YORK,
    HONOLULU,
    ZoneInfo("America/St_Johns"),
    ZoneInfo("America/Santiago"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Pacific/Chatham"),
    ZoneInfo("Africa/Casablanca"),
    ZoneInfo("Europe/London"),
]
ONE_MICROSECOND = timedelta(microseconds=1)
PROPERTY_SETTINGS = hypothesis.settings(max_examples=60, deadline=None)

moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
zone_lists = st.lists(
    st.sampled_from(AWKWARD_ZONES), min_size=1, max_size=3, unique_by=lambda z: z.key
)


@st.composite
def windows(draw) -> Window:
    start, end = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    weekdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return Window(start, end, weekdays)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def zone_names(contact: Contact) -> list[str]:
    return [zone.key for zone in contact_zones(contact)]


# contact_zones


def test_contact_zones_timezone_field_beats_address_and_phone():
    contact = Contact(
        phone=NY_PHONE,
        timezone="Europe/Paris",
        address={"state": "CA", "country": "US"},
    )

    assert zone_names(contact) == ["Europe/Paris"]


def test_contact_zones_timezone_field_ignores_case():
    contact = Contact(phone=UK_PHONE, timezone=" america/chicago ")

    assert zone_names(contact) == ["America/Chicago"]


@pytest.mark.parametrize(
    "timezone",
    [
        pytest.param("", id="empty"),
        pytest.param("Mars/Olympus_Mons", id="unknown name"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("localtime", id="the machine's zone"),
        pytest.param("Etc/Unknown", id="unknown marker"),
    ],
)
def test_contact_zones_invalid_timezone_falls_through_to_address(timezone):
    contact = Contact(
        phone=NY_PHONE, timezone=timezone, address={"state": "CA", "country": "US"}
    )

    assert zone_names(contact) == ["America/Los_Angeles"]


def test_contact_zones_address_beats_phone():
    contact = Contact(phone=UK_PHONE, address={"state": "Texas", "country": "USA"})

    assert zone_names(contact) == ["America/Chicago", "America/Denver"]


@pytest.mark.parametrize(
    "country",
    [
        pytest.param("ES", id="ISO code"),
        pytest.param("es", id="ISO code in lower case"),
        pytest.param("Spain", id="English name"),
    ],
)
def test_contact_zones_country_only_address_gives_all_its_zones(country):
    contact = Contact(phone=NY_PHONE, address={"city": "Madrid", "country": country})

    assert zone_names(contact) == ["Africa/Ceuta", "Atlantic/Canary", "Europe/Madrid"]


def test_contact_zones_unknown_state_gives_the_whole_country():
    contact = Contact(phone=UK_PHONE, address={"state": "Nowhere", "country": "US"})

    names = zone_names(contact)

    assert len(names) == 29
    assert {"America/New_York", "Pacific/Honolulu"} <= set(names)


def test_contact_zones_state_without_country_is_read_in_the_phone_country():
    contact = Contact(phone=NY_PHONE, address={"state": "WA"})

    assert zone_names(contact) == ["America/Los_Angeles"]


def test_contact_zones_state_without_country_is_ignored_outside_the_us():
    contact = Contact(phone=UK_PHONE, address={"state": "WA"})

    assert zone_names(contact) == ["Europe/London"]


def test_contact_zones_unknown_country_falls_through_to_phone():
    contact = Contact(phone=NY_PHONE, address={"country": "Atlantis"})

    assert zone_names(contact) == ["America/New_York"]


def test_contact_zones_uk_number_is_london():
    contact = Contact(phone=UK_PHONE)

    assert zone_names(contact) == ["Europe/London"]


def test_contact_zones_toll_free_number_gives_every_zone_it_spans():
    contact = Contact(phone=TOLL_FREE)

    names = zone_names(contact)

    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(names)
    assert "Etc/Unknown" not in names
    assert names == sorted(set(names))


def test_contact_zones_number_without_area_zone_gives_its_country():
    # phonenumbers places no zone on this range, but knows it is Japanese.
    contact = Contact(phone="+81901234567")

    assert zone_names(contact) == ["Asia/Tokyo"]


def test_contact_zones_default_to_the_setting(settings):
    settings.REGAL_DEFAULT_TIME_ZONE = "Europe/Berlin"
    contact = Contact(phone="")

    assert zone_names(contact) == ["Europe/Berlin"]


def test_contact_zones_default_to_new_york_without_the_setting(settings):
    del settings.REGAL_DEFAULT_TIME_ZONE
    contact = Contact(phone="")

    assert zone_names(contact) == ["America/New_York"]


# is_allowed


@pytest.mark.parametrize(
    ("moment", "allowed"),
    [
        pytest.param(utc(2026, 1, 15, 13, 59, 59), False, id="08:59:59 local"),
        pytest.param(utc(2026, 1, 15, 14), True, id="09:00 local, start included"),
        pytest.param(
            utc(2026, 1, 16, 0, 59, 59, 999999), True, id="19:59:59.999999 local"
        ),
        pytest.param(utc(2026, 1, 16, 1), False, id="20:00 local, end excluded"),
    ],
)
def test_is_allowed_window_edges(moment, allowed):
    assert is_allowed(moment, [NEW_YORK], DEFAULT_WINDOW) is allowed


def test_is_allowed_needs_every_zone_inside():
    # 10:00 in New York is 07:00 in Los Angeles.
    moment = utc(2026, 1, 15, 15)

    assert is_allowed(moment, [NEW_YORK, LOS_ANGELES], DEFAULT_WINDOW) is False


def test_is_allowed_refuses_no_zones():
    with pytest.raises(ValueError, match="at least one zone"):
        is_allowed(utc(2026, 1, 15, 15), [], DEFAULT_WINDOW)


def test_is_allowed_refuses_a_naive_moment():
    with pytest.raises(ValueError, match="aware datetime"):
        is_allowed(datetime(2026, 1, 15, 15), [NEW_YORK], DEFAULT_WINDOW)  # noqa: DTZ001


# next_allowed


def test_next_allowed_is_the_moment_itself_when_allowed():
    moment = utc(2026, 1, 15, 15, 30, 12, 345678)

    assert next_allowed(moment, [NEW_YORK], DEFAULT_WINDOW) == moment


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(
            utc(2026, 3, 7, 2), utc(2026, 3, 7, 14), id="ordinary winter night, EST"
        ),
        pytest.param(
            utc(2026, 3, 8, 2), utc(2026, 3, 8, 13), id="spring-forward night, EDT"
        ),
        pytest.param(
            utc(2026, 10, 31, 1), utc(2026, 10, 31, 13), id="ordinary summer night"
        ),
        pytest.param(
            utc(2026, 11, 1, 1), utc(2026, 11, 1, 14), id="fall-back night, EST"
        ),
    ],
)
def test_next_allowed_from_21_00_is_09_00_next_morning(moment, expected):
    assert next_allowed(moment, [NEW_YORK], DEFAULT_WINDOW) == expected


def test_next_allowed_opening_in_the_skipped_hour_opens_when_clocks_jump():
    # 02:30 does not exist on 2026-03-08: 01:59:59 EST is followed by 03:00 EDT.
    window = Window(time(2, 30), time(20))

    opens = next_allowed(utc(2026, 3, 8, 5), [NEW_YORK], window)

    assert opens == utc(2026, 3, 8, 7)


def test_next_allowed_opening_in_the_repeated_hour_opens_at_its_first_pass():
    window = Window(time(1, 30), time(20))

    opens = next_allowed(utc(2026, 11, 1, 4), [NEW_YORK], window)

    assert opens == utc(2026, 11, 1, 5, 30)


def test_next_allowed_opening_in_the_repeated_hour_opens_again_at_its_second_pass():
    # At 06:00Z the clocks go back to 01:00 EST, before the window opens again.
    window = Window(time(1, 30), time(20))

    opens = next_allowed(utc(2026, 11, 1, 6), [NEW_YORK], window)

    assert opens == utc(2026, 11, 1, 6, 30)


def test_next_allowed_intersects_new_york_and_honolulu():
    # 09:00-20:00 in both is 19:00Z-01:00Z in January.
    moment = utc(2026, 1, 15, 14)

    opens = next_allowed(moment, [NEW_YORK, HONOLULU], DEFAULT_WINDOW)

    assert opens == utc(2026, 1, 15, 19)


def test_contact_zones_toll_free_number_leaves_out_the_pacific_territories():
    names = zone_names(Contact(phone=TOLL_FREE))

    assert {"America/St_Johns", "America/Adak"} <= set(names)
    assert not {"Pacific/Guam", "Pacific/Saipan", "Pacific/Pago_Pago"} & set(names)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # January: Honolulu opens at 19:00Z, St John's closes at 23:30Z.
        (utc(2026, 1, 15, 12), utc(2026, 1, 15, 19)),
        # June: still Honolulu's 09:00; St John's closes at 22:30Z now.
        (utc(2026, 6, 15, 12), utc(2026, 6, 15, 19)),
        (utc(2026, 6, 15, 22, 30), utc(2026, 6, 16, 19)),
    ],
    ids=["winter", "summer", "summer-after-close"],
)
def test_next_allowed_toll_free_number_waits_for_all_its_zones(moment, expected):
    # Only hours allowed in every zone of the United States and Canada count.
    zones = contact_zones(Contact(phone=TOLL_FREE))

    assert next_allowed(moment, zones, DEFAULT_WINDOW) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(utc(2026, 1, 17, 15), utc(2026, 1, 19, 14), id="Saturday 10:00"),
        pytest.param(utc(2026, 1, 16, 22), utc(2026, 1, 19, 14), id="Friday 17:00"),
        pytest.param(utc(2026, 1, 19, 12), utc(2026, 1, 19, 14), id="Monday 07:00"),
    ],
)
def test_next_allowed_weekdays_only_waits_for_monday_09_00(moment, expected):
    assert next_allowed(moment, [NEW_YORK], WEEKDAYS_ONLY) == expected


def test_next_allowed_waits_a_week_for_a_sunday_only_window():
    # Sunday 2026-01-18 20:00 local: the next opening is a week later.
    window = Window(time(9), time(20), weekdays={6})

    opens = next_allowed(utc(2026, 1, 19, 1), [NEW_YORK], window)

    assert opens == utc(2026, 1, 25, 14)


def test_next_allowed_raises_when_windows_never_overlap():
    # New York and Shanghai are 13 hours apart: one opens as the other closes.
    with pytest.raises(NoAllowedTimeError) as raised:
        next_allowed(utc(2026, 1, 15, 12), [NEW_YORK, SHANGHAI], DEFAULT_WINDOW)

    assert raised.value.message == (
        "No time in the 14 days after 2026-01-15 12:00Z is inside "
        "09:00-20:00 every day in all of America/New_York, Asia/Shanghai."
    )


# window_closes and validity_period_seconds


def test_window_closes_at_20_00_local():
    closes = window_closes(utc(2026, 1, 15, 15), [NEW_YORK], DEFAULT_WINDOW)

    assert closes == utc(2026, 1, 16, 1)


def test_window_closes_when_the_first_zone_leaves():
    # 13:00 in New York, 10:00 in Los Angeles: New York reaches 20:00 first.
    closes = window_closes(
        utc(2026, 1, 15, 18), [NEW_YORK, LOS_ANGELES], DEFAULT_WINDOW
    )

    assert closes == utc(2026, 1, 16, 1)


def test_window_closes_in_the_skipped_hour_when_clocks_jump():
    window = Window(time(0), time(2, 30))

    closes = window_closes(utc(2026, 3, 8, 5), [NEW_YORK], window)

    assert closes == utc(2026, 3, 8, 7)


def test_window_closes_when_clocks_go_back_before_the_opening():
    window = Window(time(1, 30), time(20))

    closes = window_closes(utc(2026, 11, 1, 5, 30), [NEW_YORK], window)

    assert closes == utc(2026, 11, 1, 6)


def test_window_closes_refuses_a_moment_outside_the_window():
    with pytest.raises(ValueError, match="outside the window"):
        window_closes(utc(2026, 1, 15, 12), [NEW_YORK], DEFAULT_WINDOW)


@pytest.mark.parametrize(
    ("moment", "window", "maximum", "expected"),
    [
        pytest.param(
            utc(2026, 1, 15, 18), DEFAULT_WINDOW, 36000, 25200, id="seven hours left"
        ),
        pytest.param(
            utc(2026, 1, 15, 18, 0, 0, 500000),
            DEFAULT_WINDOW,
            36000,
            25199,
            id="whole seconds only",
        ),
        pytest.param(
            utc(2026, 1, 15, 5),
            Window(time(0), time(23)),
            36000,
            36000,
            id="clamped to Twilio's 36000",
        ),
        pytest.param(
            utc(2026, 1, 15, 18), DEFAULT_WINDOW, 600, 600, id="clamped to maximum"
        ),
        pytest.param(
            utc(2026, 1, 16, 0, 59, 59, 500000),
            DEFAULT_WINDOW,
            36000,
            1,
            id="at least 1",
        ),
    ],
)
def test_validity_period_seconds_until_the_window_closes(
    moment, window, maximum, expected
):
    seconds = validity_period_seconds(moment, [NEW_YORK], window, maximum=maximum)

    assert seconds == expected


@pytest.mark.parametrize("maximum", [0, 36001])
def test_validity_period_seconds_refuses_a_maximum_twilio_refuses(maximum):
    with pytest.raises(ValueError, match="maximum must be from 1 to 36000"):
        validity_period_seconds(
            utc(2026, 1, 15, 18), [NEW_YORK], DEFAULT_WINDOW, maximum=maximum
        )


# Window and validate_window


def test_window_keeps_weekdays_as_a_frozenset():
    window = Window(time(9), time(17), weekdays=[0, 1, 1])

    assert window.weekdays == frozenset({0, 1})


def test_validate_window_accepts_the_default():
    assert validate_window(DEFAULT_WINDOW) == []


@pytest.mark.parametrize(
    ("window", "problems"),
    [
        pytest.param(
            Window(time(20), time(9)),
            [
                "The window must start before it ends (20:00 is not before 09:00);"
                " windows across midnight are not supported."
            ],
            id="across midnight",
        ),
        pytest.param(
            Window(time(9), time(9)),
            [
                "The window must start before it ends (09:00 is not before 09:00);"
                " windows across midnight are not supported."
            ],
            id="empty",
        ),
        pytest.param(
            Window(time(9), time(20), weekdays=frozenset()),
            ["Choose at least one weekday."],
            id="no weekdays",
        ),
        pytest.param(
            Window(time(9), time(20), weekdays=frozenset({0, 7})),
            ["Weekdays run from 0 (Monday) to 6 (Sunday), not 7."],
            id="unknown weekday",
        ),
        pytest.param(
            Window(time(9, tzinfo=UTC), time(20)),
            ["Window times are the contact's local time and cannot carry a zone."],
            id="time with a zone",
        ),
    ],
)
def test_validate_window_names_the_problem(window, problems):
    assert validate_window(window) == problems


def test_invalid_window_has_no_allowed_time():
    window = Window(time(20), time(9))

    with pytest.raises(NoAllowedTimeError):
        next_allowed(utc(2026, 1, 15, 12), [NEW_YORK], window)


# Properties over awkward zones, windows and moments


@PROPERTY_SETTINGS
@given(moment=moments, zones=zone_lists, window=windows())
def test_next_allowed_is_allowed_and_nothing_just_before_it_is(moment, zones, window):
    try:
        opens = next_allowed(moment, zones, window)
    except NoAllowedTimeError:
        return

    assert opens >= moment
    assert is_allowed(opens, zones, window)
    assert opens == moment or not is_allowed(opens - ONE_MICROSECOND, zones, window)


@PROPERTY_SETTINGS
@given(moment=moments, zones=zone_lists, window=windows())
def test_window_closes_is_the_first_instant_not_allowed(moment, zones, window):
    try:
        opens = next_allowed(moment, zones, window)
    except NoAllowedTimeError:
        return

    closes = window_closes(opens, zones, window)

    assert closes > opens
    assert not is_allowed(closes, zones, window)
    assert is_allowed(closes - ONE_MICROSECOND, zones, window)
