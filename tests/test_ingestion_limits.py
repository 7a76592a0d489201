"""The HTTP tracking API's limits: gzip bodies, sizes, batch length, alias and
group calls, and a messageId sent by many requests at once.

Write keys and the shape of ordinary answers are tested in
test_ingestion_api.py.
"""

import base64
import gzip
import json
import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from events.models import Event
from events.services import IngestResult, ingest_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db

MAX_REQUEST_BYTES = 500 * 1024
CONCURRENT_REQUESTS = 8


def basic_auth(write_key: str) -> dict:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def post_bytes(path: str, body: bytes, write_key: str, **headers):
    return APIClient().post(
        path,
        data=body,
        content_type="application/json",
        **basic_auth(write_key),
        **headers,
    )


def post_json(path: str, body: object, write_key: str):
    return post_bytes(path, json.dumps(body).encode(), write_key)


def post_gzip(path: str, body: bytes, write_key: str):
    return post_bytes(
        path, gzip.compress(body), write_key, HTTP_CONTENT_ENCODING="gzip"
    )


def track(**overrides) -> dict:
    return {
        "type": "track",
        "messageId": "m-1",
        "userId": "u-1",
        "event": "Application Started",
        **overrides,
    }


def batch_of_size(size: int) -> bytes:
    """A batch whose JSON is exactly `size` bytes, each event under 32 KB."""
    batch = [
        track(messageId=f"m-{index}", properties={"pad": "x" * 24_000})
        for index in range(size // 24_500)
    ]
    batch.append(track(messageId="last", properties={"pad": ""}))
    batch[-1]["properties"]["pad"] = "x" * (size - len(json.dumps({"batch": batch})))
    body = json.dumps({"batch": batch}).encode()
    assert len(body) == size
    return body


def test_gzip_body_is_inflated_and_stored():
    source = make_source()
    body = json.dumps(track(properties={"plan": "gold"})).encode()

    response = post_gzip("/v1/track", body, source.write_key)

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert list(Event.objects.values_list("message_id", "properties")) == [
        ("m-1", {"plan": "gold"})
    ]


def test_gzip_batch_is_inflated_and_every_event_stored():
    source = make_source()
    batch = [track(messageId="m-1"), track(messageId="m-2")]

    response = post_gzip(
        "/v1/batch", json.dumps({"batch": batch}).encode(), source.write_key
    )

    assert response.status_code == 200
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "m-1",
        "m-2",
    ]


@pytest.mark.parametrize(
    "content_encoding", ["GZIP", " gzip "], ids=["upper", "spaced"]
)
def test_content_encoding_is_read_without_regard_to_case_or_spaces(content_encoding):
    source = make_source()
    body = gzip.compress(json.dumps(track()).encode())

    response = post_bytes(
        "/v1/track", body, source.write_key, HTTP_CONTENT_ENCODING=content_encoding
    )

    assert response.status_code == 200
    assert Event.objects.count() == 1


def test_identity_content_encoding_is_read_as_plain_json():
    source = make_source()

    response = post_bytes(
        "/v1/track",
        json.dumps(track()).encode(),
        source.write_key,
        HTTP_CONTENT_ENCODING="identity",
    )

    assert response.status_code == 200
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not gzip at all", "incorrect header check"),
        (gzip.compress(b"{}")[:-12] + b"\xff" * 12, "invalid block type"),
    ],
    ids=["plain-text", "corrupt-stream"],
)
def test_invalid_gzip_is_refused_with_400(body, reason):
    source = make_source()

    response = post_bytes(
        "/v1/track", body, source.write_key, HTTP_CONTENT_ENCODING="gzip"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": f"the body is not valid gzip: Error -3 while decompressing data: "
        f"{reason}",
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "make_body",
    [
        lambda: batch_of_size(MAX_REQUEST_BYTES + 1),
        lambda: b'{"batch": [' + b" " * 50_000_000 + b"]}",
    ],
    ids=["one-byte-over", "50-mb-of-spaces"],
)
def test_gzip_body_that_inflates_past_the_request_limit_is_refused(make_body):
    body = make_body()
    source = make_source()

    response = post_gzip("/v1/batch", body, source.write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "request_too_large",
        "message": "a request holds at most 500 KB of JSON",
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize("post", [post_bytes, post_gzip], ids=["plain", "gzip"])
def test_body_of_exactly_the_request_limit_is_stored(post):
    source = make_source()
    body = batch_of_size(MAX_REQUEST_BYTES)

    response = post("/v1/batch", body, source.write_key)

    assert response.status_code == 200
    assert Event.objects.count() == len(json.loads(body)["batch"])


@pytest.mark.parametrize(
    "size",
    [MAX_REQUEST_BYTES + 1, 3 * 1024 * 1024],
    ids=["one-byte-over", "over-djangos-upload-limit"],
)
def test_plain_body_over_the_request_limit_is_refused(size):
    source = make_source()

    response = post_bytes("/v1/batch", batch_of_size(size), source.write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "request_too_large",
        "message": "a request holds at most 500 KB of JSON",
    }
    assert not Event.objects.exists()


def test_batch_over_2500_events_is_refused_whole():
    source = make_source()
    batch = [track(messageId=f"m-{index}") for index in range(2501)]

    response = post_json("/v1/batch", {"batch": batch}, source.write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "batch_too_large",
        "message": "a batch holds at most 2500 events, not 2501",
    }
    assert not Event.objects.exists()


def test_batch_of_2500_events_is_stored():
    source = make_source()
    batch = [track(messageId=f"m-{index}") for index in range(2500)]

    response = post_json("/v1/batch", {"batch": batch}, source.write_key)

    assert response.status_code == 200
    assert Event.objects.count() == 2500


def test_event_over_32_kb_is_rejected_alone_and_the_others_stored():
    source = make_source()
    batch = [
        track(messageId="small-1"),
        track(messageId="large", properties={"blob": "x" * 33 * 1024}),
        track(messageId="small-2"),
    ]

    response = post_json("/v1/batch", {"batch": batch}, source.write_key)

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_events",
        "message": "1 event(s) rejected, 2 accepted; see errors for which and why",
        "accepted": 2,
        "errors": [
            {
                "index": 1,
                "messageId": "large",
                "code": "event_too_large",
                "message": "event is larger than 32 KB",
            }
        ],
    }
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "small-1",
        "small-2",
    ]


@pytest.mark.parametrize("content_encoding", ["br", "deflate", "gzip, br"])
def test_unsupported_content_encoding_is_refused_with_415(content_encoding):
    source = make_source()

    response = post_bytes(
        "/v1/track",
        json.dumps(track()).encode(),
        source.write_key,
        HTTP_CONTENT_ENCODING=content_encoding,
    )

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": f"Content-Encoding {content_encoding!r} is not supported",
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        (
            "/v1/alias",
            {"messageId": "m-1", "userId": "u-1"},
            "missing_identity",
            "an alias call needs a userId and a previousId",
        ),
        (
            "/v1/alias",
            {"messageId": "m-1", "previousId": "a-1"},
            "missing_identity",
            "an alias call needs a userId and a previousId",
        ),
        (
            "/v1/group",
            {"messageId": "m-1", "userId": "u-1", "traits": {"name": "Acme"}},
            "missing_group_id",
            "a group call needs a groupId",
        ),
    ],
    ids=["alias-without-previous-id", "alias-without-user-id", "group-without-id"],
)
def test_call_without_its_required_id_is_rejected(path, body, code, message):
    source = make_source()

    response = post_json(path, body, source.write_key)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "messageId": "m-1", "code": code, "message": message}
    ]
    assert not Event.objects.exists()


def test_alias_endpoint_stores_alias_with_previous_id():
    source = make_source()

    response = post_json(
        "/v1/alias",
        {"messageId": "m-1", "userId": "u-1", "previousId": "a-1"},
        source.write_key,
    )

    assert response.status_code == 200
    assert list(
        Event.objects.values_list("type", "user_id", "previous_id", "group_id")
    ) == [("alias", "u-1", "a-1", "")]


def test_group_endpoint_stores_group_with_group_id_and_traits():
    source = make_source()

    response = post_json(
        "/v1/group",
        {
            "messageId": "m-1",
            "userId": "u-1",
            "groupId": "acme",
            "traits": {"name": "Acme"},
        },
        source.write_key,
    )

    assert response.status_code == 200
    assert list(Event.objects.values_list("type", "user_id", "group_id", "traits")) == [
        ("group", "u-1", "acme", {"name": "Acme"})
    ]


def ingest_at_once(calls: int, send) -> list:
    """Run `send()` in `calls` threads released together; return what each got.

    Each thread has its own database connection, as concurrent requests do.
    """
    barrier = threading.Barrier(calls)
    outcomes: list = [None] * calls

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[slot] = send()
        except Exception as exc:  # the test asserts on what each thread got
            outcomes[slot] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def answer(result: object) -> str:
    """What an ingest of one event answered: "accepted", or what it got instead."""
    if (
        isinstance(result, IngestResult)
        and not result.errors
        and len(result.stored) + result.duplicates == 1
    ):
        return "accepted"
    return repr(result)


requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers: concurrent duplicates need PostgreSQL",
)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "known_user", [False, True], ids=["new-user-slow-path", "known-user-fast-path"]
)
def test_message_id_sent_at_once_by_many_requests_is_stored_once(settings, known_user):
    settings.REGAL_EVENT_CONSUMERS = []
    source = make_source()
    if known_user:
        ingest_events(source, [track(messageId="earlier")])

    outcomes = ingest_at_once(
        CONCURRENT_REQUESTS, lambda: ingest_events(source, [track(messageId="race")])
    )

    assert [answer(outcome) for outcome in outcomes] == [
        "accepted"
    ] * CONCURRENT_REQUESTS
    assert sum(len(outcome.stored) for outcome in outcomes) == 1
    assert Event.objects.filter(message_id="race").count() == 1


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_message_id_posted_at_once_by_many_clients_is_stored_once(settings):
    settings.REGAL_EVENT_CONSUMERS = []
    source = make_source()
    body = json.dumps(track(messageId="race")).encode()

    responses = ingest_at_once(
        CONCURRENT_REQUESTS,
        lambda: post_bytes("/v1/track", body, source.write_key),
    )

    assert [(response.status_code, response.json()) for response in responses] == [
        (200, {"success": True})
    ] * CONCURRENT_REQUESTS
    assert Event.objects.filter(message_id="race").count() == 1
