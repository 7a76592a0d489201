"""The campaign builder's conditions: operators, coercion, moments, groups, checks."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from campaigns.conditions import (
    OPERATORS_BY_TYPE,
    Condition,
    Operator,
    Subject,
    ValueType,
    check,
    contact_data,
    describe,
    matches,
    operators_for,
    parse_moment,
    resolve,
    validate,
)
from contacts.models import Contact

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
MOMENT_HELP = (
    "write a date such as 2024-05-01, a date and time such as 2024-05-01T09:30, "
    'or a moment such as "now", "today", "2 days ago" or "in 3 hours"'
)

TEXT, NUMBER = ValueType.STRING, ValueType.NUMBER
BOOLEAN, DATETIME = ValueType.BOOLEAN, ValueType.DATETIME


def condition(
    operator: str,
    value: str = "",
    value_type: str = TEXT,
    *,
    key: str = "k",
    subject: str = Subject.EVENT,
) -> Condition:
    return Condition(
        subject=subject, key=key, operator=operator, value=value, value_type=value_type
    )


def holds(cond: Condition, stored, *, present: bool = True, now=NOW) -> bool:
    return check(cond, value_present=present, value=stored, now=now)


# (value type, operator, admin's value, stored value, expected): every operator
# a type allows, once holding and once not.
OPERATOR_CASES = [
    (TEXT, Operator.EQUALS, "gold", "gold", True),
    (TEXT, Operator.EQUALS, "gold", "silver", False),
    (TEXT, Operator.NOT_EQUALS, "gold", "silver", True),
    (TEXT, Operator.NOT_EQUALS, "gold", "gold", False),
    (TEXT, Operator.ONE_OF, "gold, silver", "silver", True),
    (TEXT, Operator.ONE_OF, "gold, silver", "bronze", False),
    (TEXT, Operator.CONTAINS, "loan", "home loan offer", True),
    (TEXT, Operator.CONTAINS, "loan", "mortgage", False),
    (TEXT, Operator.STARTS_WITH, "home", "home loan", True),
    (TEXT, Operator.STARTS_WITH, "home", "my home", False),
    (TEXT, Operator.ENDS_WITH, "loan", "home loan", True),
    (TEXT, Operator.ENDS_WITH, "loan", "loans", False),
    (TEXT, Operator.EXISTS, "", "gold", True),
    (TEXT, Operator.EXISTS, "", None, False),
    (TEXT, Operator.NOT_EXISTS, "", None, True),
    (TEXT, Operator.NOT_EXISTS, "", "gold", False),
    (NUMBER, Operator.EQUALS, "100", 100, True),
    (NUMBER, Operator.EQUALS, "100", 99, False),
    (NUMBER, Operator.NOT_EQUALS, "100", 99, True),
    (NUMBER, Operator.NOT_EQUALS, "100", 100, False),
    (NUMBER, Operator.ONE_OF, "1, 2, 3", 2, True),
    (NUMBER, Operator.ONE_OF, "1, 2, 3", 4, False),
    (NUMBER, Operator.GREATER_THAN, "100", 100.5, True),
    (NUMBER, Operator.GREATER_THAN, "100", 100, False),
    (NUMBER, Operator.GREATER_OR_EQUAL, "100", 100, True),
    (NUMBER, Operator.GREATER_OR_EQUAL, "100", 99.5, False),
    (NUMBER, Operator.LESS_THAN, "100", 99.5, True),
    (NUMBER, Operator.LESS_THAN, "100", 100, False),
    (NUMBER, Operator.LESS_OR_EQUAL, "100", 100, True),
    (NUMBER, Operator.LESS_OR_EQUAL, "100", 100.5, False),
    (NUMBER, Operator.EXISTS, "", 0, True),
    (NUMBER, Operator.EXISTS, "", None, False),
    (NUMBER, Operator.NOT_EXISTS, "", None, True),
    (NUMBER, Operator.NOT_EXISTS, "", 0, False),
    (BOOLEAN, Operator.EQUALS, "true", True, True),
    (BOOLEAN, Operator.EQUALS, "true", False, False),
    (BOOLEAN, Operator.NOT_EQUALS, "true", False, True),
    (BOOLEAN, Operator.NOT_EQUALS, "true", True, False),
    (BOOLEAN, Operator.ONE_OF, "yes", True, True),
    (BOOLEAN, Operator.ONE_OF, "yes", False, False),
    (BOOLEAN, Operator.EXISTS, "", False, True),
    (BOOLEAN, Operator.EXISTS, "", None, False),
    (BOOLEAN, Operator.NOT_EXISTS, "", None, True),
    (BOOLEAN, Operator.NOT_EXISTS, "", False, False),
    (DATETIME, Operator.BEFORE, "2024-06-01", "2024-05-31T23:59:59Z", True),
    (DATETIME, Operator.BEFORE, "2024-06-01", "2024-06-01T00:00:00Z", False),
    (DATETIME, Operator.AFTER, "2024-06-01", "2024-06-01T00:00:01Z", True),
    (DATETIME, Operator.AFTER, "2024-06-01", "2024-06-01T00:00:00Z", False),
    (DATETIME, Operator.EXISTS, "", "2024-06-01T00:00:00Z", True),
    (DATETIME, Operator.EXISTS, "", None, False),
    (DATETIME, Operator.NOT_EXISTS, "", None, True),
    (DATETIME, Operator.NOT_EXISTS, "", "2024-06-01T00:00:00Z", False),
]


def case_id(case) -> str:
    value_type, operator, _, stored, expected = case
    return f"{value_type}-{operator}-{stored!r}-{'holds' if expected else 'fails'}"


@pytest.mark.parametrize(
    ("value_type", "operator", "value", "stored", "expected"),
    OPERATOR_CASES,
    ids=[case_id(case) for case in OPERATOR_CASES],
)
def test_check_operator_on_its_type(value_type, operator, value, stored, expected):
    result = holds(condition(operator, value, value_type), stored)

    assert result is expected


def test_check_operator_cases_cover_every_allowed_operator_both_ways():
    covered = {(case[0], case[1], case[4]) for case in OPERATOR_CASES}

    expected = {
        (value_type, operator, outcome)
        for value_type, operators in OPERATORS_BY_TYPE.items()
        for operator in operators
        for outcome in (True, False)
    }
    assert covered == expected


def test_operators_by_type_gives_datetime_no_equality():
    assert operators_for(DATETIME) == [
        Operator.EXISTS,
        Operator.NOT_EXISTS,
        Operator.BEFORE,
        Operator.AFTER,
    ]


def test_operators_for_lists_in_declaration_order():
    assert operators_for(BOOLEAN) == [
        Operator.EQUALS,
        Operator.NOT_EQUALS,
        Operator.ONE_OF,
        Operator.EXISTS,
        Operator.NOT_EXISTS,
    ]


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        pytest.param("10", "9", id="numeric-strings"),
        pytest.param(" 10 ", "9", id="padded-string"),
        pytest.param("1e3", "999", id="exponent-string"),
        pytest.param(10, "9.5", id="int-against-decimal"),
    ],
)
def test_check_compares_numbers_numerically(stored, value):
    result = holds(condition(Operator.GREATER_THAN, value, NUMBER), stored)

    assert result is True


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        pytest.param(10.0, "10", id="float-and-int"),
        pytest.param("10.0", "10", id="string-with-decimals"),
        pytest.param(0.1, "0.1", id="float-exactly"),
    ],
)
def test_check_equal_numbers_in_other_spellings(stored, value):
    result = holds(condition(Operator.EQUALS, value, NUMBER), stored)

    assert result is True


@pytest.mark.parametrize(
    "stored",
    [True, "true", "TRUE", "Yes", "1", 1],
    ids=["bool", "true", "upper-true", "capital-yes", "one-string", "one-int"],
)
def test_check_reads_stored_true(stored):
    assert holds(condition(Operator.EQUALS, "true", BOOLEAN), stored) is True


@pytest.mark.parametrize(
    "stored",
    [False, "false", "No", "0", 0],
    ids=["bool", "false", "capital-no", "zero-string", "zero-int"],
)
def test_check_reads_stored_false(stored):
    assert holds(condition(Operator.EQUALS, "false", BOOLEAN), stored) is True


@pytest.mark.parametrize(
    "value", ["True", "YES", "1"], ids=["capital-true", "upper-yes", "one"]
)
def test_check_reads_admin_boolean_spellings(value):
    assert holds(condition(Operator.EQUALS, value, BOOLEAN), True) is True


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("2024-06-01T10:00:00", id="naive-string-is-utc"),
        pytest.param("2024-06-01T10:00:00Z", id="zulu-string"),
        pytest.param("2024-06-01T12:00:00+02:00", id="offset-string"),
        pytest.param(datetime(2024, 6, 1, 10, 0), id="naive-datetime-is-utc"),  # noqa: DTZ001
        pytest.param(datetime(2024, 6, 1, 12, 0, tzinfo=PARIS), id="aware-datetime"),
    ],
)
def test_check_reads_stored_datetimes(stored):
    window = [
        condition(Operator.AFTER, "2024-06-01T09:59:59Z", DATETIME),
        condition(Operator.BEFORE, "2024-06-01T10:00:01Z", DATETIME),
    ]

    assert [holds(each, stored) for each in window] == [True, True]


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("2024-06-01", id="date-string"),
        pytest.param(date(2024, 6, 1), id="date-object"),
    ],
)
def test_check_reads_stored_dates_as_start_of_day_utc(stored):
    window = [
        condition(Operator.AFTER, "2024-05-31T23:59:59Z", DATETIME),
        condition(Operator.BEFORE, "2024-06-01T00:00:01Z", DATETIME),
    ]

    assert [holds(each, stored) for each in window] == [True, True]


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        pytest.param(10, "10", id="int"),
        pytest.param(10.0, "10", id="integral-float"),
        pytest.param(10.5, "10.5", id="float"),
        pytest.param(1e20, "100000000000000000000", id="large-float"),
        pytest.param(True, "true", id="bool"),
    ],
)
def test_check_reads_stored_values_as_text(stored, value):
    assert holds(condition(Operator.EQUALS, value, TEXT), stored) is True


@pytest.mark.parametrize(
    ("operator", "value", "stored"),
    [
        pytest.param(Operator.EQUALS, "Yes", "yes", id="equals"),
        pytest.param(Operator.ONE_OF, "Gold, Silver", "SILVER", id="one-of"),
        pytest.param(Operator.CONTAINS, "LOAN", "Home loan", id="contains"),
        pytest.param(Operator.STARTS_WITH, "home", "Home loan", id="starts-with"),
        pytest.param(Operator.ENDS_WITH, "Loan", "home LOAN", id="ends-with"),
        pytest.param(Operator.EQUALS, "strasse", "STRASSE", id="casefold"),
    ],
)
def test_check_compares_text_case_insensitively(operator, value, stored):
    assert holds(condition(operator, value, TEXT), stored) is True


def test_check_strips_spaces_around_the_admins_value():
    assert holds(condition(Operator.EQUALS, "  gold ", TEXT), "gold") is True


def test_check_keeps_spaces_around_the_stored_value():
    assert holds(condition(Operator.EQUALS, "gold", TEXT), " gold") is False


SAMPLE_VALUES = {TEXT: "gold", NUMBER: "100", BOOLEAN: "true", DATETIME: "2024-06-01"}
TYPED_OPERATORS = [
    (value_type, operator)
    for value_type in ValueType
    for operator in operators_for(value_type)
]


@pytest.mark.parametrize(
    ("value_type", "operator"),
    TYPED_OPERATORS,
    ids=[f"{value_type}-{operator}" for value_type, operator in TYPED_OPERATORS],
)
def test_check_absent_value_holds_only_for_negations(value_type, operator):
    cond = condition(operator, SAMPLE_VALUES[value_type], value_type)

    result = holds(cond, None, present=False)

    assert result is (operator in {Operator.NOT_EQUALS, Operator.NOT_EXISTS})


@pytest.mark.parametrize(
    ("value_type", "stored"),
    [
        pytest.param(TEXT, None, id="string-null"),
        pytest.param(TEXT, "  ", id="string-blank"),
        pytest.param(TEXT, {"a": 1}, id="string-object"),
        pytest.param(TEXT, ["a"], id="string-list"),
        pytest.param(NUMBER, "abc", id="number-text"),
        pytest.param(NUMBER, True, id="number-bool"),
        pytest.param(NUMBER, "NaN", id="number-nan"),
        pytest.param(BOOLEAN, "maybe", id="boolean-text"),
        pytest.param(BOOLEAN, 2, id="boolean-two"),
        pytest.param(DATETIME, "soon", id="datetime-text"),
        pytest.param(DATETIME, 1717200000, id="datetime-epoch"),
        pytest.param(DATETIME, "2024-02-30T10:00:00", id="datetime-impossible-day"),
    ],
)
def test_check_treats_null_blank_and_unreadable_values_as_missing(value_type, stored):
    results = [
        holds(condition(Operator.EXISTS, "", value_type), stored),
        holds(condition(Operator.NOT_EXISTS, "", value_type), stored),
    ]

    assert results == [False, True]


@pytest.mark.parametrize(
    ("value_type", "stored"),
    [
        pytest.param(NUMBER, "abc", id="number"),
        pytest.param(BOOLEAN, "maybe", id="boolean"),
        pytest.param(TEXT, {"a": 1}, id="string"),
    ],
)
def test_check_not_equals_holds_for_an_unreadable_value(value_type, stored):
    cond = condition(Operator.NOT_EQUALS, SAMPLE_VALUES[value_type], value_type)

    assert holds(cond, stored) is True


@pytest.mark.parametrize(
    ("cond", "stored"),
    [
        pytest.param(
            condition(Operator.CONTAINS, "1", NUMBER), "100", id="operator-not-for-type"
        ),
        pytest.param(
            condition(Operator.NOT_EQUALS, "abc", NUMBER), 5, id="value-not-a-number"
        ),
        pytest.param(
            condition(Operator.CONTAINS, "", TEXT), "gold", id="value-missing"
        ),
        pytest.param(condition(Operator.ONE_OF, " , ", TEXT), "gold", id="empty-list"),
        pytest.param(
            condition(Operator.AFTER, "someday", DATETIME),
            "2024-06-01",
            id="bad-moment",
        ),
        pytest.param(
            condition(Operator.NOT_EXISTS, "", TEXT, key=""), None, id="empty-key"
        ),
        pytest.param(
            condition(Operator.NOT_EXISTS, "", "object"), None, id="unknown-type"
        ),
        pytest.param(condition("like", "gold", TEXT), "gold", id="unknown-operator"),
    ],
)
def test_check_broken_condition_never_holds(cond, stored):
    assert holds(cond, stored) is False


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        pytest.param({"plan": "gold"}, "plan", (True, "gold"), id="top-level"),
        pytest.param(
            {"cart": {"total": 12}}, "cart.total", (True, 12), id="nested-object"
        ),
        pytest.param({"a": {"b": {"c": 1}}}, "a.b.c", (True, 1), id="two-levels-deep"),
        pytest.param(
            {"utm.source": "ad", "utm": {"source": "mail"}},
            "utm.source",
            (True, "ad"),
            id="literal-dotted-key-wins",
        ),
        pytest.param(
            {"utm.campaign": {"id": 7}},
            "utm.campaign.id",
            (True, 7),
            id="literal-dotted-key-then-path",
        ),
        pytest.param({"plan": None}, "plan", (True, None), id="present-null"),
        pytest.param({}, "plan", (False, None), id="absent"),
        pytest.param({"cart": {}}, "cart.total", (False, None), id="absent-leaf"),
        pytest.param({"cart": 5}, "cart.total", (False, None), id="through-a-number"),
        pytest.param(
            {"items": [{"sku": "a"}]}, "items.0.sku", (False, None), id="into-a-list"
        ),
    ],
)
def test_resolve_follows_dotted_paths(data, key, expected):
    assert resolve(data, key) == expected


def test_contact_data_puts_typed_fields_beside_properties():
    contact = SimpleNamespace(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+14155550123",
        timezone="Europe/London",
        address={"city": "London"},
        properties={"plan": "gold"},
    )

    data = contact_data(contact)

    assert data == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+14155550123",
        "timezone": "Europe/London",
        "address": {"city": "London"},
        "plan": "gold",
    }


def test_contact_data_typed_field_wins_over_a_property():
    contact = SimpleNamespace(
        first_name="Ada",
        last_name="",
        email="",
        phone="+14155550123",
        timezone="",
        address={},
        properties={"first_name": "Augusta", "email": "a@example.com"},
    )

    data = contact_data(contact)

    assert (data["first_name"], data["email"]) == ("Ada", "")


def test_contact_data_reads_a_contact_model_without_the_database():
    contact = Contact(phone="+14155550123", address={"city": "Paris"})

    assert resolve(contact_data(contact), "address.city") == (True, "Paris")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("now", NOW, id="now"),
        pytest.param("2 days ago", NOW - timedelta(days=2), id="days-ago"),
        pytest.param("1 day ago", NOW - timedelta(days=1), id="singular-unit"),
        pytest.param("3 hours ago", NOW - timedelta(hours=3), id="hours-ago"),
        pytest.param("45 minutes ago", NOW - timedelta(minutes=45), id="minutes"),
        pytest.param("30 seconds ago", NOW - timedelta(seconds=30), id="seconds"),
        pytest.param("in 1 week", NOW + timedelta(weeks=1), id="in-a-week"),
        pytest.param("in 0 days", NOW, id="zero"),
        pytest.param("  2   DAYS  Ago ", NOW - timedelta(days=2), id="loose-spelling"),
        pytest.param("today", datetime(2024, 6, 15, tzinfo=UTC), id="today"),
        pytest.param("yesterday", datetime(2024, 6, 14, tzinfo=UTC), id="yesterday"),
        pytest.param("tomorrow", datetime(2024, 6, 16, tzinfo=UTC), id="tomorrow"),
        pytest.param("1 month ago", datetime(2024, 5, 15, 12, tzinfo=UTC), id="month"),
        pytest.param("in 2 years", datetime(2026, 6, 15, 12, tzinfo=UTC), id="years"),
    ],
)
def test_parse_moment_reads_relative_moments(text, expected):
    assert parse_moment(text, now=NOW) == expected


def test_parse_moment_clamps_months_to_their_last_day():
    now = datetime(2024, 3, 31, 9, 0, tzinfo=UTC)

    assert parse_moment("1 month ago", now=now) == datetime(2024, 2, 29, 9, tzinfo=UTC)


def test_parse_moment_today_is_the_start_of_the_day_in_tz():
    late_evening_utc = datetime(2024, 6, 15, 23, 30, tzinfo=UTC)

    moment = parse_moment("today", now=late_evening_utc, tz=PARIS)

    assert moment == datetime(2024, 6, 16, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        pytest.param("2024-05-01", UTC, datetime(2024, 5, 1, tzinfo=UTC), id="date"),
        pytest.param(
            "2024-05-01", PARIS, datetime(2024, 4, 30, 22, tzinfo=UTC), id="date-in-tz"
        ),
        pytest.param(
            "2024-05-01T09:30", UTC, datetime(2024, 5, 1, 9, 30, tzinfo=UTC), id="naive"
        ),
        pytest.param(
            "2024-05-01T09:30",
            PARIS,
            datetime(2024, 5, 1, 7, 30, tzinfo=UTC),
            id="naive-in-tz",
        ),
        pytest.param(
            "2024-05-01T09:30:00Z",
            PARIS,
            datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
            id="zulu-ignores-tz",
        ),
        pytest.param(
            "2024-05-01 09:30+02:00",
            UTC,
            datetime(2024, 5, 1, 7, 30, tzinfo=UTC),
            id="offset-with-space",
        ),
    ],
)
def test_parse_moment_reads_absolute_moments(text, tz, expected):
    assert parse_moment(text, now=NOW, tz=tz) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "next tuesday",
            f"'next tuesday' is not a date or moment: {MOMENT_HELP}",
            id="nonsense",
        ),
        pytest.param(
            " ", f"' ' is not a date or moment: it is empty; {MOMENT_HELP}", id="blank"
        ),
        pytest.param(
            "2 fortnights ago",
            "'2 fortnights ago' is not a date or moment: 'fortnight' is not a unit; "
            "use seconds, minutes, hours, days, weeks, months or years",
            id="unknown-unit",
        ),
        pytest.param(
            "2024-02-30",
            "'2024-02-30' is not a date or moment: day is out of range for month",
            id="impossible-date",
        ),
        pytest.param(
            "100000 years ago",
            "'100000 years ago' is not a date or moment: it is too far from today",
            id="too-far-in-months",
        ),
        pytest.param(
            "in 99999999 days",
            "'in 99999999 days' is not a date or moment: it is too far from today",
            id="too-far-in-days",
        ),
    ],
)
def test_parse_moment_refuses_nonsense(text, message):
    with pytest.raises(ValueError, match="is not a date or moment") as raised:
        parse_moment(text, now=NOW)

    assert str(raised.value) == message


def test_check_before_relative_moment_counts_from_now():
    signed_up_before_two_days_ago = condition(Operator.BEFORE, "2 days ago", DATETIME)

    results = [
        holds(signed_up_before_two_days_ago, "2024-06-13T11:59:59Z"),
        holds(signed_up_before_two_days_ago, "2024-06-13T12:00:01Z"),
    ]

    assert results == [True, False]


def test_check_after_relative_moment_moves_with_now():
    seen_after_one_hour_ago = condition(Operator.AFTER, "1 hour ago", DATETIME)
    seen = "2024-06-15T11:30:00Z"

    results = [
        holds(seen_after_one_hour_ago, seen, now=NOW),
        holds(seen_after_one_hour_ago, seen, now=NOW + timedelta(hours=1)),
    ]

    assert results == [True, False]


def event_is(key: str, value: str) -> Condition:
    return condition(Operator.EQUALS, value, TEXT, key=key)


def contact_is(key: str, value: str) -> Condition:
    return condition(Operator.EQUALS, value, TEXT, key=key, subject=Subject.CONTACT)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        pytest.param([], True, id="no-groups"),
        pytest.param([[]], True, id="only-an-empty-group"),
        pytest.param([[], [event_is("plan", "silver")]], False, id="empty-ignored"),
        pytest.param(
            [[event_is("plan", "gold"), contact_is("city", "Paris")]],
            True,
            id="and-all-hold",
        ),
        pytest.param(
            [[event_is("plan", "gold"), contact_is("city", "Rome")]],
            False,
            id="and-one-fails",
        ),
        pytest.param(
            [[event_is("plan", "silver")], [contact_is("city", "Paris")]],
            True,
            id="or-second-holds",
        ),
        pytest.param(
            [[event_is("plan", "silver")], [contact_is("city", "Rome")]],
            False,
            id="or-none-holds",
        ),
        pytest.param([[event_is("city", "Paris")]], False, id="event-not-contact"),
        pytest.param([[contact_is("plan", "gold")]], False, id="contact-not-event"),
        pytest.param(
            [[condition(Operator.NOT_EXISTS, key="plan", subject="account")]],
            False,
            id="unknown-subject",
        ),
    ],
)
def test_matches_ors_groups_and_ands_conditions(groups, expected):
    result = matches(
        groups, event_data={"plan": "gold"}, contact={"city": "Paris"}, now=NOW
    )

    assert result is expected


def test_matches_reads_nested_contact_fields():
    groups = [[contact_is("address.city", "paris")]]
    contact = contact_data(
        SimpleNamespace(
            first_name="",
            last_name="",
            email="",
            phone="+14155550123",
            timezone="",
            address={"city": "Paris"},
            properties={},
        )
    )

    assert matches(groups, event_data={}, contact=contact, now=NOW) is True


@pytest.mark.parametrize(
    "cond",
    [
        pytest.param(condition(Operator.GREATER_THAN, "100", NUMBER), id="number"),
        pytest.param(condition(Operator.ONE_OF, "gold,silver", TEXT), id="one-of"),
        pytest.param(condition(Operator.EXISTS), id="exists-without-value"),
        pytest.param(
            condition(Operator.EXISTS, "ignored", NUMBER), id="exists-with-value"
        ),
        pytest.param(
            condition(Operator.BEFORE, "2 days ago", DATETIME), id="relative-moment"
        ),
        pytest.param(condition(Operator.AFTER, "2024-05-01", DATETIME), id="date"),
        pytest.param(condition(Operator.EQUALS, "no", BOOLEAN), id="boolean"),
    ],
)
def test_validate_accepts_a_sound_condition(cond):
    assert validate(cond) == []


@pytest.mark.parametrize(
    ("cond", "problems"),
    [
        pytest.param(
            condition(Operator.CONTAINS, "1", NUMBER, key="cart.total"),
            [
                "'contains' does not apply to cart.total, compared as number; "
                "choose one of 'is', 'is not', 'is one of', 'exists', "
                "'does not exist', 'is greater than', 'is at least', "
                "'is less than', 'is at most'."
            ],
            id="operator-not-for-type",
        ),
        pytest.param(
            condition(Operator.EQUALS, "2024-05-01", DATETIME, key="signed_up_at"),
            [
                "'is' does not apply to signed_up_at, compared as date and time; "
                "choose one of 'exists', 'does not exist', 'is before', 'is after'."
            ],
            id="equals-on-datetime",
        ),
        pytest.param(
            condition(Operator.EQUALS, "gold", key="  "),
            ["Choose a property key."],
            id="empty-key",
        ),
        pytest.param(
            condition(Operator.EQUALS, "gold", key="plan "),
            ["'plan ' begins or ends with a space; keys are matched exactly."],
            id="key-with-trailing-space",
        ),
        pytest.param(
            condition(Operator.EQUALS, "gold", key="cart..total"),
            [
                "'cart..total' is not a property path: every part between dots "
                "needs a name, as in address.city."
            ],
            id="key-with-empty-part",
        ),
        pytest.param(
            condition(Operator.GREATER_THAN, " ", NUMBER, key="cart.total"),
            ["Give a value to compare cart.total with."],
            id="missing-value",
        ),
        pytest.param(
            condition(Operator.ONE_OF, " , ,", TEXT, key="plan"),
            ["Give at least one value for plan, separated by commas."],
            id="empty-list",
        ),
        pytest.param(
            condition(Operator.GREATER_THAN, "abc", NUMBER, key="cart.total"),
            ["'abc' is not a number for cart.total."],
            id="not-a-number",
        ),
        pytest.param(
            condition(Operator.ONE_OF, "1, two", NUMBER, key="cart.size"),
            ["'two' is not a number for cart.size."],
            id="not-a-number-in-list",
        ),
        pytest.param(
            condition(Operator.EQUALS, "maybe", BOOLEAN, key="vip"),
            [
                "'maybe' is not true or false for vip; "
                "write true or false, yes or no, or 1 or 0."
            ],
            id="not-a-boolean",
        ),
        pytest.param(
            condition(Operator.BEFORE, "next tuesday", DATETIME, key="signed_up_at"),
            [
                "'next tuesday' is not a date or moment for signed_up_at: "
                f"{MOMENT_HELP}."
            ],
            id="not-a-moment",
        ),
        pytest.param(
            condition(Operator.EXISTS, subject="account"),
            [
                "'account' is not something a condition can read; "
                "choose an event property or a contact property."
            ],
            id="unknown-subject",
        ),
        pytest.param(
            condition(Operator.EXISTS, value_type="object"),
            [
                "'object' is not a type to compare as; "
                "choose one of text, number, true/false, date and time."
            ],
            id="unknown-type",
        ),
        pytest.param(
            condition("like", "gold"),
            ["'like' is not an operator."],
            id="unknown-operator",
        ),
        pytest.param(
            condition(Operator.GREATER_THAN, "abc", NUMBER, key="", subject="account"),
            [
                "'account' is not something a condition can read; "
                "choose an event property or a contact property.",
                "Choose a property key.",
                "'abc' is not a number for this property.",
            ],
            id="several-problems",
        ),
    ],
)
def test_validate_names_each_problem(cond, problems):
    assert validate(cond) == problems


@pytest.mark.parametrize(
    ("cond", "sentence"),
    [
        pytest.param(
            condition(Operator.GREATER_THAN, "100", NUMBER, key="cart.total"),
            "event property cart.total is greater than 100",
            id="number",
        ),
        pytest.param(
            condition(Operator.EQUALS, " gold ", TEXT, key="plan"),
            'event property plan is "gold"',
            id="text-quoted",
        ),
        pytest.param(
            condition(Operator.ONE_OF, "gold,silver ", TEXT, key="plan"),
            'event property plan is one of "gold", "silver"',
            id="one-of",
        ),
        pytest.param(
            condition(Operator.ONE_OF, "1,2", NUMBER, key="size"),
            "event property size is one of 1, 2",
            id="one-of-numbers",
        ),
        pytest.param(
            condition(
                Operator.EQUALS, "Yes", BOOLEAN, key="vip", subject=Subject.CONTACT
            ),
            "contact property vip is true",
            id="boolean-normalised",
        ),
        pytest.param(
            condition(Operator.NOT_EXISTS, "ignored", key="coupon"),
            "event property coupon does not exist",
            id="no-value-shown",
        ),
        pytest.param(
            condition(Operator.BEFORE, "2 days ago", DATETIME, key="signed_up_at"),
            "event property signed_up_at is before 2 days ago",
            id="relative-moment",
        ),
        pytest.param(
            condition("like", "gold", key="plan", subject="account"),
            'account property plan like "gold"',
            id="unreadable-parts-as-typed",
        ),
    ],
)
def test_describe_reads_as_a_sentence(cond, sentence):
    assert describe(cond) == sentence
