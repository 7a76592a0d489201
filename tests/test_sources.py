"""Sources: rate limits, write key rotation, disabling, and the source's log.

The write key's places in a request are tested in test_ingestion_api.py.
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from events.api.throttling import SourceRateThrottle
from events.models import Event, Source, SourceLogEntry
from events.services import MAX_LOG_ENTRIES_PER_REQUEST, rotate_write_key
from tests.factories import make_source

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)


def basic_auth(write_key: str) -> dict:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def track(**overrides) -> dict:
    return {
        "type": "track",
        "messageId": "m-1",
        "userId": "u-1",
        "event": "Application Started",
        **overrides,
    }


def post_track(write_key: str, **overrides):
    return APIClient().post(
        "/v1/track",
        data=json.dumps(track(**overrides)),
        content_type="application/json",
        **basic_auth(write_key),
    )


def post_batch(write_key: str, batch: list):
    return APIClient().post(
        "/v1/batch",
        data=json.dumps({"batch": batch}),
        content_type="application/json",
        **basic_auth(write_key),
    )


def make_limited_source(rate_limit_per_second: int | None) -> Source:
    """A source whose requests no earlier test has counted.

    Not cache.clear(): on Redis that empties the whole database, which other
    Regal instances and test runs may share. SQLite reuses a rolled-back
    test's primary keys, so a count left under this source's id is removed.
    """
    source = make_source(rate_limit_per_second=rate_limit_per_second)
    throttle = SourceRateThrottle()
    cache.delete(throttle.cache_format % {"scope": throttle.scope, "ident": source.pk})
    return source


def admin_client() -> Client:
    client = Client()
    client.force_login(
        User.objects.create_superuser(username="ops", password="unused-password")
    )
    return client


@time_machine.travel(NOW, tick=False)
def test_source_over_its_rate_limit_gets_429_with_retry_after():
    source = make_limited_source(2)
    post_track(source.write_key, messageId="m-1")
    post_track(source.write_key, messageId="m-2")

    response = post_track(source.write_key, messageId="m-3")

    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "code": "throttled",
        "message": "Request was throttled. Expected available in 1 second.",
    }
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "m-1",
        "m-2",
    ]


def test_source_over_its_rate_limit_is_told_to_wait_a_whole_second():
    source = make_limited_source(2)
    with time_machine.travel(NOW, tick=False) as clock:
        post_track(source.write_key, messageId="m-1")
        post_track(source.write_key, messageId="m-2")
        clock.shift(timedelta(milliseconds=900))

        response = post_track(source.write_key, messageId="m-3")

    assert (response.status_code, response["Retry-After"]) == (429, "1")


def test_source_within_its_rate_limit_is_served_again_a_second_later():
    source = make_limited_source(2)
    with time_machine.travel(NOW, tick=False) as clock:
        post_track(source.write_key, messageId="m-1")
        post_track(source.write_key, messageId="m-2")
        clock.shift(timedelta(seconds=1, milliseconds=1))

        response = post_track(source.write_key, messageId="m-3")

    assert response.status_code == 200
    assert Event.objects.count() == 3


def test_rate_limit_counts_each_source_on_its_own():
    limited = make_limited_source(1)
    other = make_limited_source(1)
    with time_machine.travel(NOW, tick=False):
        post_track(limited.write_key, messageId="m-1")

        response = post_track(other.write_key, messageId="m-1")

    assert response.status_code == 200


@time_machine.travel(NOW, tick=False)
def test_source_without_rate_limit_is_never_throttled():
    source = make_limited_source(None)

    statuses = [
        post_track(source.write_key, messageId=f"m-{index}").status_code
        for index in range(20)
    ]

    assert statuses == [200] * 20
    assert Event.objects.count() == 20


@time_machine.travel(NOW, tick=False)
def test_rotate_write_key_gives_source_a_new_key_that_works():
    source = make_source()
    old_key = source.write_key

    rotated = rotate_write_key(source, rotated_by="ops")

    assert rotated.write_key != old_key
    assert post_track(rotated.write_key).status_code == 200
    assert Event.objects.get().source == source


@pytest.mark.parametrize(
    "after",
    [timedelta(0), timedelta(hours=23, minutes=59, seconds=59)],
    ids=["at-once", "a-second-before-expiry"],
)
def test_rotated_out_key_works_within_its_grace(after):
    source = make_source()
    old_key = source.write_key
    with time_machine.travel(NOW, tick=False) as clock:
        rotate_write_key(source, rotated_by="ops")
        clock.shift(after)

        response = post_track(old_key)

    assert response.status_code == 200
    assert Event.objects.get().source == source


@pytest.mark.parametrize(
    "after", [timedelta(hours=24), timedelta(days=3)], ids=["at-expiry", "days-later"]
)
def test_rotated_out_key_is_refused_after_its_grace(after):
    source = make_source()
    old_key = source.write_key
    with time_machine.travel(NOW, tick=False) as clock:
        rotate_write_key(source, rotated_by="ops")
        clock.shift(after)

        response = post_track(old_key)

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_write_key",
        "message": "no enabled source has this write key",
    }
    assert not Event.objects.exists()


def test_rotated_out_key_is_refused_once_its_expiry_is_past():
    source = make_source()
    old_key = source.write_key
    rotate_write_key(source, rotated_by="ops")
    Source.objects.filter(pk=source.pk).update(
        previous_key_expires_at=datetime(2020, 1, 1, tzinfo=UTC)
    )

    response = post_track(old_key)

    assert response.status_code == 401
    assert not Event.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_rotate_write_key_keeps_the_old_key_for_24_hours():
    source = make_source()
    old_key = source.write_key

    rotate_write_key(source, rotated_by="ops")

    source.refresh_from_db()
    assert (source.previous_write_key, source.previous_key_expires_at) == (
        old_key,
        NOW + timedelta(hours=24),
    )


@time_machine.travel(NOW, tick=False)
def test_rotate_write_key_records_who_rotated_it_in_the_source_log():
    source = make_source()

    rotate_write_key(source, rotated_by="ops")

    assert list(
        SourceLogEntry.objects.values_list("source", "level", "code", "message")
    ) == [
        (
            source.pk,
            "warning",
            "write_key_rotated",
            "write key rotated by ops; the old key works until 2026-03-03 09:15 UTC",
        )
    ]


def test_rotating_twice_ends_the_first_key_at_once():
    source = make_source()
    first_key = source.write_key
    rotate_write_key(source, rotated_by="ops")

    rotate_write_key(source, rotated_by="ops")

    assert post_track(first_key).status_code == 401


@time_machine.travel(NOW, tick=False)
def test_admin_action_rotates_the_write_key_and_logs_who():
    source = make_source()
    old_key = source.write_key

    response = admin_client().post(
        "/admin/events/source/",
        {"action": "rotate_write_key", "_selected_action": [source.pk]},
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.write_key != old_key
    assert source.previous_write_key == old_key
    assert list(SourceLogEntry.objects.values_list("code", "message")) == [
        (
            "write_key_rotated",
            "write key rotated by ops; the old key works until 2026-03-03 09:15 UTC",
        )
    ]


@time_machine.travel(NOW, tick=False)
def test_admin_action_leaves_both_keys_working():
    source = make_source()
    old_key = source.write_key
    admin_client().post(
        "/admin/events/source/",
        {"action": "rotate_write_key", "_selected_action": [source.pk]},
    )
    source.refresh_from_db()

    statuses = [
        post_track(source.write_key, messageId="new").status_code,
        post_track(old_key, messageId="old").status_code,
    ]

    assert statuses == [200, 200]


def test_admin_action_rotates_only_the_selected_sources():
    chosen, other = make_source(), make_source()
    other_key = other.write_key

    admin_client().post(
        "/admin/events/source/",
        {"action": "rotate_write_key", "_selected_action": [chosen.pk]},
    )

    other.refresh_from_db()
    assert (other.write_key, other.previous_write_key) == (other_key, "")
    assert list(SourceLogEntry.objects.values_list("source", flat=True)) == [chosen.pk]


@pytest.mark.parametrize("key", ["current", "rotated-out"])
def test_disabled_source_refuses_both_its_keys(key):
    source = make_source()
    old_key = source.write_key
    source = rotate_write_key(source, rotated_by="ops")
    Source.objects.filter(pk=source.pk).update(is_enabled=False)

    response = post_track(source.write_key if key == "current" else old_key)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert not Event.objects.exists()


def test_batch_logs_each_rejected_event_and_unused_phone():
    source = make_source()
    batch = [
        track(messageId="good"),
        track(messageId="no-name", event=""),
        {
            "type": "identify",
            "messageId": "short-code",
            "userId": "u-2",
            "traits": {"phone": "12345"},
        },
    ]

    post_batch(source.write_key, batch)

    assert sorted(
        SourceLogEntry.objects.values_list("source", "level", "code", "message_id")
    ) == [
        (source.pk, "error", "missing_event", "no-name"),
        (source.pk, "warning", "contact_not_created", "short-code"),
    ]


def test_source_log_entry_carries_the_reason():
    source = make_source()

    post_batch(source.write_key, [track(messageId="no-name", event="")])

    assert SourceLogEntry.objects.get().message == "a track call needs an event name"


def test_request_without_problems_writes_no_log():
    source = make_source()

    post_batch(source.write_key, [track(messageId="m-1"), track(messageId="m-2")])

    assert not SourceLogEntry.objects.exists()


def test_source_log_keeps_at_most_its_cap_per_request():
    source = make_source()
    batch = [
        track(messageId=f"bad-{index}", event="")
        for index in range(MAX_LOG_ENTRIES_PER_REQUEST + 10)
    ]

    response = post_batch(source.write_key, batch)

    assert len(response.json()["errors"]) == MAX_LOG_ENTRIES_PER_REQUEST + 10
    assert SourceLogEntry.objects.count() == MAX_LOG_ENTRIES_PER_REQUEST


def test_source_log_is_written_to_the_sending_source_only():
    source, other = make_source(), make_source()

    post_batch(source.write_key, [track(messageId="no-name", event="")])

    assert not SourceLogEntry.objects.filter(source=other).exists()


def test_source_admin_page_shows_its_log():
    source = make_source()
    post_batch(
        source.write_key,
        [
            track(messageId="no-name", event=""),
            {"type": "identify", "userId": "u-2", "traits": {"phone": "12345"}},
        ],
    )

    response = admin_client().get(f"/admin/events/source/{source.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "missing_event" in page
    assert "a track call needs an event name" in page
    assert "no-name" in page
    assert "contact_not_created" in page
    assert "phone &#x27;12345&#x27; is a short code, not a person&#x27;s number" in page


def test_source_log_entries_admin_lists_entries_of_every_source():
    source = make_source()
    post_batch(source.write_key, [track(messageId="no-name", event="")])

    response = admin_client().get("/admin/events/sourcelogentry/")

    assert response.status_code == 200
    assert "a track call needs an event name" in response.content.decode()
