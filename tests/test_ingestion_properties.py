"""Properties of ingestion that must hold for any body a client can send.

In-process through DRF's APIClient on the test database, for speed: the SDK
tests prove the same views over real sockets. Every example's request runs
in its own savepoint, so that a database error in one example fails that
example alone instead of poisoning the test's transaction for the rest.
"""

import base64
import gzip
import json
import string
import uuid

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.django_db

# The source is created once per test and only read by the examples, and
# every example's messageIds are its own, so sharing it across examples is
# safe.
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INGEST_PATHS = ["/v1/batch", "/v1/track", "/v1/identify", "/events"]
EVENT_KEYS = [
    "type",
    "userId",
    "anonymousId",
    "messageId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "previousId",
    "groupId",
    "batch",
    "eventSource",
    "phone",
    "phones",
    "email",
    "emails",
    "optIn",
    "address",
    "smsOptIn",
    "subscribed",
    "channel",
    "ip",
    "timezone",
    "firstName",
]
# Values that steer parsing down its interesting branches.
TELLING_STRINGS = [
    "track",
    "identify",
    "page",
    "screen",
    "alias",
    "group",
    "null",
    "anonymous",
    "sms",
    "voice",
    "email",
    "+14155552671",
    "(415) 555-2671",
    "12345",
    "ada@example.com",
    "2024-05-01T12:00:00Z",
    "2024-02-30T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "203.0.113.9",
    "America/New_York",
    "Mars/Olympus",
]

# Any character at all, lone surrogates and NUL included: json.dumps writes
# them as escapes, and Python's JSON parser reads them back.
any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_keys = st.sampled_from(EVENT_KEYS) | any_text
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(TELLING_STRINGS)
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(json_keys, children, max_size=6)
    ),
    max_leaves=25,
)
# Nearly valid events, so that odd text reaches the database, not only the parser.
odd_text_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page", "screen", "group"]),
        "userId": any_text,
        "anonymousId": any_text,
        "groupId": any_text,
        "event": any_text,
        "name": any_text,
        "messageId": any_text,
        "properties": st.dictionaries(any_text, json_values, max_size=3),
        "traits": st.dictionaries(json_keys, json_values, max_size=4),
        "context": st.dictionaries(any_text, json_values, max_size=3),
    }
)
event_like = st.dictionaries(json_keys, json_values, max_size=10) | odd_text_events
json_bodies = (
    json_values
    | event_like
    | st.builds(lambda events: {"batch": events}, st.lists(event_like, max_size=5))
)
# Deep nesting is cheap to send and costly to parse.
deep_bodies = st.integers(min_value=1, max_value=200_000).map(
    lambda depth: ("[" * depth + "]" * depth).encode()
)
# Numbers Python's parser reads but no JSON column can hold, or that it
# refuses with a ValueError of its own (over 4300 digits).
odd_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "7" * 5000])
odd_number_bodies = st.builds(
    lambda key, number: (
        '{"type": "track", "userId": "u-1", "event": "E", '
        f'"{key}": {{"x": {number}}}, "messageId": {number}}}'
    ).encode(),
    st.sampled_from(["properties", "traits", "context"]),
    odd_numbers,
)
raw_bodies = (
    json_bodies.map(lambda body: json.dumps(body).encode())
    | st.binary(max_size=200)
    | deep_bodies
    | odd_number_bodies
)


def basic_auth(write_key: str) -> dict:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def post(path: str, body: bytes, **headers):
    client = APIClient()
    with transaction.atomic():
        return client.post(path, data=body, content_type="application/json", **headers)


def assert_answer_is_well_formed(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 300:
        body = json.loads(response.content)
        assert isinstance(body.get("code"), str), body
        assert isinstance(body.get("message"), str), body


@pytest.fixture
def source():
    return make_source()


@PROPERTY_SETTINGS
@given(path=st.sampled_from(INGEST_PATHS), body=raw_bodies)
# Bodies that once made a 500, kept as regressions.
@example(path="/v1/batch", body=b"[" * 5000 + b"]" * 5000)
@example(path="/v1/track", body=b'{"type": "track", "messageId": NaN}')
@example(path="/v1/track", body=b'{"type": "track", "properties": {"x": 1e999}}')
@example(path="/v1/track", body=b"7" * 5000)
@example(
    path="/v1/track",
    body=b'{"type": "track", "userId": "u-1", "event": "E", "messageId": "\\ud800"}',
)
def test_ingest_answers_any_body_without_a_server_error(source, path, body):
    response = post(path, body, **basic_auth(source.write_key))

    assert_answer_is_well_formed(response)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(INGEST_PATHS), body=raw_bodies)
def test_ingest_answers_any_gzip_body_without_a_server_error(source, path, body):
    response = post(
        path,
        gzip.compress(body),
        HTTP_CONTENT_ENCODING="gzip",
        **basic_auth(source.write_key),
    )

    assert_answer_is_well_formed(response)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(INGEST_PATHS), body=raw_bodies)
def test_ingest_answers_any_body_without_a_key_header_without_a_server_error(
    source, path, body
):
    response = post(path, body)

    assert_answer_is_well_formed(response)


# Valid events: printable ids and names, free-form properties and traits.
ids = st.text(string.ascii_letters + string.digits + "-_@.", min_size=1, max_size=12)
names = st.text(string.printable, min_size=1, max_size=30).filter(str.strip)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | names,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(names, children, max_size=3)
    ),
    max_leaves=8,
)
properties = st.dictionaries(names, plain_values, max_size=4)
phones = st.sampled_from(["+14155552671", "+14155552672", "(415) 555-2673", "123"])


@st.composite
def identity(draw) -> dict:
    user_id = "user-" + draw(ids)
    anonymous_id = "anon-" + draw(ids)
    return draw(
        st.sampled_from(
            [
                {"userId": user_id},
                {"anonymousId": anonymous_id},
                {"userId": user_id, "anonymousId": anonymous_id},
            ]
        )
    )


@st.composite
def valid_event(draw) -> dict:
    kind = draw(st.sampled_from(["track", "identify", "page", "screen", "alias"]))
    event = {"type": kind, **draw(identity())}
    if kind == "track":
        event.update(event=draw(names), properties=draw(properties))
    elif kind == "identify":
        traits = draw(properties)
        if draw(st.booleans()):
            traits["phone"] = draw(phones)
        event["traits"] = traits
    elif kind == "alias":
        event.update(userId="user-" + draw(ids), previousId="anon-" + draw(ids))
    else:
        event.update(name=draw(names), properties=draw(properties))
    return event


invalid_events = (
    st.sampled_from([None, 1, "track", True, []])
    | identity().map(lambda ids: {"type": "track", **ids})
    | identity().map(lambda ids: {"type": "purchase", "event": "Bought", **ids})
    | st.just({"type": "track", "event": "Bought", "userId": "null"})
    | identity().map(lambda ids: {"type": "group", **ids})
    | st.just({"type": "alias", "userId": "user-1"})
    | identity().map(
        lambda ids: {"type": "page", "timestamp": "2024-02-30T00:00:00Z", **ids}
    )
    | identity().map(
        lambda ids: {"type": "track", "event": "E", "properties": 3, **ids}
    )
    | identity().map(lambda ids: {"type": "identify", "traits": [], **ids})
)


@st.composite
def mixed_batch(draw) -> list[tuple[bool, dict | object]]:
    """(is_valid, event) pairs, valid ones in the majority."""
    return draw(
        st.lists(
            st.one_of(
                valid_event().map(lambda event: (True, event)),
                invalid_events.map(lambda event: (False, event)),
            ),
            min_size=1,
            max_size=25,
        )
    )


def with_message_ids(pairs: list, run: str) -> list:
    """Give every event a messageId unique to this example."""
    events = []
    for index, (_, event) in enumerate(pairs):
        if isinstance(event, dict):
            event = {**event, "messageId": f"{run}-{index}"}
        events.append(event)
    return events


@PROPERTY_SETTINGS
@given(pairs=mixed_batch())
def test_ingest_batch_keeps_every_valid_event_and_reports_every_invalid_one(
    source, pairs
):
    run = uuid.uuid4().hex
    events = with_message_ids(pairs, run)
    valid = {f"{run}-{index}" for index, (ok, _) in enumerate(pairs) if ok}
    invalid = {index for index, (ok, _) in enumerate(pairs) if not ok}

    response = post(
        "/v1/batch",
        json.dumps({"batch": events}).encode(),
        **basic_auth(source.write_key),
    )

    body = response.json()
    assert response.status_code == (400 if invalid else 200), body
    assert {error["index"] for error in body.get("errors", [])} == invalid
    stored = set(
        Event.objects.filter(source=source, message_id__startswith=run).values_list(
            "message_id", flat=True
        )
    )
    assert stored == valid
