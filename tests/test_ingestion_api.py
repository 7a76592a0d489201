"""The HTTP tracking API: write keys, status codes and the shape of answers.

What ingestion stores, and when, is tested on the service in test_ingestion.py.
"""

import base64
import json

import pytest
from rest_framework.test import APIClient

from events.choices import EventType
from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.django_db

UNKNOWN_KEY = "no-such-key"


def basic_auth(write_key: str) -> dict:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def bearer_auth(write_key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {write_key}"}


def post_json(path: str, body: object, **headers):
    return APIClient().post(
        path, data=json.dumps(body), content_type="application/json", **headers
    )


def track(**overrides) -> dict:
    return {
        "type": "track",
        "messageId": "m-1",
        "userId": "u-1",
        "event": "Application Started",
        **overrides,
    }


def send_with_key(write_key: str, place: str):
    """Post one track call with the write key where an SDK may put it."""
    if place == "basic":
        return post_json("/v1/track", track(), **basic_auth(write_key))
    if place == "bearer":
        return post_json("/v1/track", track(), **bearer_auth(write_key))
    return post_json("/v1/track", track(writeKey=write_key))


KEY_PLACES = pytest.mark.parametrize("place", ["basic", "bearer", "body"])


@KEY_PLACES
def test_ingest_accepts_write_key_from(place):
    source = make_source()

    response = send_with_key(source.write_key, place)

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert Event.objects.get().source == source


@KEY_PLACES
def test_ingest_refuses_unknown_write_key_from(place):
    make_source()

    response = send_with_key(UNKNOWN_KEY, place)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="regal"'
    assert response.json() == {
        "code": "invalid_write_key",
        "message": "no enabled source has this write key",
    }
    assert not Event.objects.exists()


def test_ingest_refuses_write_key_of_disabled_source():
    source = make_source(is_enabled=False)

    response = post_json("/v1/track", track(), **basic_auth(source.write_key))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="regal"'
    assert response.json() == {
        "code": "invalid_write_key",
        "message": "no enabled source has this write key",
    }
    assert not Event.objects.exists()


def test_ingest_refuses_request_without_write_key():
    make_source()

    response = post_json("/v1/track", track())

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="regal"'
    assert response.json() == {
        "code": "not_authenticated",
        "message": (
            "send the source's write key as the Basic auth user name, "
            "a Bearer token or writeKey in the body"
        ),
    }
    assert not Event.objects.exists()


def test_ingest_refuses_basic_credentials_that_are_not_base64():
    make_source()

    response = post_json("/v1/track", track(), HTTP_AUTHORIZATION="Basic not*base64")

    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Basic credentials are not base64",
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize("kind", ["track", "identify", "page", "screen"])
def test_single_event_endpoint_stores_event_of_its_type(kind):
    source = make_source()
    body = {"messageId": "m-1", "userId": "u-1", "event": "Clicked", "name": "Home"}

    response = post_json(f"/v1/{kind}", body, **basic_auth(source.write_key))

    assert response.status_code == 200
    assert Event.objects.get().type == kind


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import"])
def test_batch_endpoint_stores_every_event(path):
    source = make_source()
    batch = [track(messageId="m-1"), track(messageId="m-2", type="page")]

    response = post_json(path, {"batch": batch}, **basic_auth(source.write_key))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert sorted(Event.objects.values_list("message_id", "type")) == [
        ("m-1", "track"),
        ("m-2", "page"),
    ]


def test_ingest_answers_replayed_message_id_with_200_and_stores_nothing():
    source = make_source()
    post_json("/v1/track", track(), **basic_auth(source.write_key))

    response = post_json("/v1/track", track(), **basic_auth(source.write_key))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert Event.objects.count() == 1


def test_ingest_refuses_body_that_is_not_json():
    source = make_source()

    response = APIClient().post(
        "/v1/track",
        data="{",
        content_type="application/json",
        **basic_auth(source.write_key),
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": (
            "JSON parse error - Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)"
        ),
    }
    assert not Event.objects.exists()


def test_ingest_reads_json_sent_as_text_plain():
    # Browsers' sendBeacon can only send text/plain.
    source = make_source()

    response = APIClient().post(
        "/v1/track",
        data='{"userId": "u-1", "event": "Viewed"}',
        content_type="text/plain",
        **basic_auth(source.write_key),
    )

    assert response.status_code == 200
    assert list(Event.objects.values_list("name", flat=True)) == ["Viewed"]


def test_ingest_refuses_form_body_as_not_json():
    source = make_source()

    response = APIClient().post(
        "/v1/track",
        data="userId=u-1",
        content_type="text/plain",
        **basic_auth(source.write_key),
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "body", [[track()], "track", None], ids=["list", "string", "null"]
)
def test_single_event_endpoint_refuses_body_that_is_not_an_object(body):
    source = make_source()

    response = post_json("/v1/track", body, **basic_auth(source.write_key))

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_body",
        "message": "the body must be a JSON object",
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"batch": track()}, {"batch": None}, [track()]],
    ids=["missing-batch", "batch-object", "batch-null", "body-list"],
)
def test_batch_endpoint_refuses_body_without_batch_list(body):
    source = make_source()

    response = post_json("/v1/batch", body, **basic_auth(source.write_key))

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_batch",
        "message": "the body must hold a `batch` list",
    }
    assert not Event.objects.exists()


def test_single_event_endpoint_refuses_invalid_event_with_its_reason():
    source = make_source()

    response = post_json("/v1/track", track(event=""), **basic_auth(source.write_key))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_events",
        "message": "1 event(s) rejected, 0 accepted; see errors for which and why",
        "accepted": 0,
        "errors": [
            {
                "index": 0,
                "messageId": "m-1",
                "code": "missing_event",
                "message": "a track call needs an event name",
            }
        ],
    }
    assert not Event.objects.exists()


def test_batch_with_bad_events_keeps_good_ones_and_names_each_bad_one():
    source = make_source()
    batch = [
        track(messageId="good-1"),
        track(messageId="no-identity", userId="null"),
        track(messageId="good-2"),
        track(messageId="bad-type", type="purchase"),
    ]

    response = post_json("/v1/batch", {"batch": batch}, **basic_auth(source.write_key))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_events",
        "message": "2 event(s) rejected, 2 accepted; see errors for which and why",
        "accepted": 2,
        "errors": [
            {
                "index": 1,
                "messageId": "no-identity",
                "code": "missing_identity",
                "message": (
                    "userId or anonymousId is required (generic values such as "
                    "'null' or 'anonymous' do not count)"
                ),
            },
            {
                "index": 3,
                "messageId": "bad-type",
                "code": "invalid_type",
                "message": (
                    f"type must be one of {', '.join(EventType.values)}, not 'purchase'"
                ),
            },
        ],
    }
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "good-1",
        "good-2",
    ]


def test_batch_counts_replayed_events_as_accepted():
    source = make_source()
    post_json("/v1/track", track(messageId="seen"), **basic_auth(source.write_key))
    batch = [track(messageId="seen"), track(messageId="bad", event=None)]

    response = post_json("/v1/batch", {"batch": batch}, **basic_auth(source.write_key))

    assert response.status_code == 400
    assert response.json()["accepted"] == 1
    assert Event.objects.count() == 1


def test_identify_with_invalid_phone_answers_200_with_warning():
    source = make_source()
    body = {"messageId": "m-1", "userId": "u-1", "traits": {"phone": "12345"}}

    response = post_json("/v1/identify", body, **basic_auth(source.write_key))

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "warnings": [
            {
                "index": 0,
                "messageId": "m-1",
                "code": "contact_not_created",
                "message": "phone '12345' is a short code, not a person's number",
            }
        ],
    }
    assert Event.objects.get().contact is None


def test_unknown_url_under_v1_answers_json_404():
    source = make_source()

    response = post_json("/v1/nothing-here", track(), **basic_auth(source.write_key))

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "no such URL"}
    assert not Event.objects.exists()


def test_ingest_refuses_wrong_method_with_json_405():
    source = make_source()

    response = APIClient().get("/v1/batch", **basic_auth(source.write_key))

    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": 'Method "GET" not allowed.',
    }
