"""Profile merges: when two sets of ids turn out to be one person, and when not.

Driven through the ingestion service, as in test_identity.py, except where
the HTTP answer's warnings are the point.
"""

import base64
import itertools
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from contacts.models import Contact, Profile, ProfileIdentifier, ProfileMerge
from events.models import Event, SourceLogEntry
from events.services import IngestResult, ingest_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"

_message_ids = itertools.count(1)


@pytest.fixture
def source():
    return make_source(name="web")


def send(source, payload: dict) -> IngestResult:
    payload = {"messageId": f"m-{next(_message_ids)}", **payload}
    return ingest_events(source, [payload])


def track(source, **ids) -> IngestResult:
    return send(source, {"type": "track", "event": "Viewed", **ids})


def identify(source, traits: dict | None = None, **ids) -> IngestResult:
    return send(source, {"type": "identify", "traits": traits or {}, **ids})


def alias(source, **ids) -> IngestResult:
    return send(source, {"type": "alias", **ids})


def stored_event(result: IngestResult) -> Event:
    (event_id,) = result.stored
    return Event.objects.get(pk=event_id)


def profile_of(kind: str, value: str) -> Profile:
    return ProfileIdentifier.objects.get(kind=kind, value=value).profile


def identifiers_of(profile: Profile) -> list[tuple[str, str]]:
    return sorted(profile.identifiers.values_list("kind", "value"))


def test_identify_merges_anonymous_profile_into_the_users(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    anonymous_profile = stored_event(track(source, anonymousId="a-1")).profile

    identify(source, userId="u-1", anonymousId="a-1")

    anonymous_profile.refresh_from_db()
    assert anonymous_profile.merged_into == user_profile
    assert identifiers_of(user_profile) == [
        ("anonymous_id", "a-1"),
        ("user_id", "u-1"),
    ]


def test_identify_records_the_merge_with_its_call_and_identifiers(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    anonymous_profile = stored_event(
        send(source, {"type": "page", "name": "Home", "anonymousId": "a-1"})
    ).profile

    send(
        source,
        {
            "type": "identify",
            "messageId": "merge-call",
            "userId": "u-1",
            "anonymousId": "a-1",
        },
    )

    assert list(
        ProfileMerge.objects.values_list(
            "into_profile", "other_profile_id", "outcome", "cause", "identifiers"
        )
    ) == [
        (
            user_profile.pk,
            anonymous_profile.pk,
            "merged",
            "identify merge-call via source web",
            ["anonymous_id=a-1"],
        )
    ]


def test_track_with_both_ids_merges_and_names_its_type_in_the_cause(source):
    track(source, userId="u-1")
    track(source, anonymousId="a-1")

    send(
        source,
        {
            "type": "track",
            "event": "Viewed",
            "messageId": "track-call",
            "userId": "u-1",
            "anonymousId": "a-1",
        },
    )

    assert list(ProfileMerge.objects.values_list("outcome", "cause")) == [
        ("merged", "track track-call via source web")
    ]


def test_merge_moves_the_anonymous_profiles_traits_under_the_users(source):
    identify(source, {"plan": "gold", "city": "Oakland"}, anonymousId="a-1")
    identify(source, {"plan": "platinum"}, userId="u-1")

    identify(source, userId="u-1", anonymousId="a-1")

    assert profile_of("user_id", "u-1").traits == {
        "plan": "platinum",
        "city": "Oakland",
    }


def test_identify_with_phone_gives_contact_the_merged_anonymous_events(source):
    anonymous_events = [
        stored_event(track(source, anonymousId="a-1")),
        stored_event(send(source, {"type": "page", "anonymousId": "a-1"})),
    ]
    track(source, userId="u-1")

    identify(source, {"phone": PHONE}, userId="u-1", anonymousId="a-1")

    contact = Contact.objects.get()
    assert [Event.objects.get(pk=event.pk).contact for event in anonymous_events] == [
        contact,
        contact,
    ]


def test_phone_after_the_merge_gives_contact_the_merged_anonymous_events(source):
    anonymous_event = stored_event(track(source, anonymousId="a-1"))
    track(source, userId="u-1")
    identify(source, userId="u-1", anonymousId="a-1")

    identify(source, {"phone": PHONE}, userId="u-1")

    anonymous_event.refresh_from_db()
    assert anonymous_event.contact == Contact.objects.get()


def test_phone_gives_contact_the_events_of_a_chain_of_merged_profiles(source):
    anonymous_event = stored_event(track(source, anonymousId="a-1"))
    track(source, userId="u-old")
    identify(source, userId="u-old", anonymousId="a-1")
    track(source, userId="u-1")
    alias(source, userId="u-1", previousId="u-old")

    identify(source, {"phone": PHONE}, userId="u-1")

    anonymous_event.refresh_from_db()
    assert anonymous_event.contact == Contact.objects.get()


def test_merge_into_a_user_with_a_contact_gives_it_the_anonymous_events(source):
    identify(source, {"phone": PHONE}, userId="u-1")
    anonymous_event = stored_event(track(source, anonymousId="a-1"))

    track(source, userId="u-1", anonymousId="a-1")

    anonymous_event.refresh_from_db()
    assert anonymous_event.contact == Contact.objects.get()


def test_identify_refuses_to_merge_another_identified_users_profile(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    other_profile = stored_event(track(source, userId="u-2", anonymousId="a-2")).profile

    send(
        source,
        {
            "type": "identify",
            "messageId": "refused-call",
            "userId": "u-1",
            "anonymousId": "a-2",
        },
    )

    assert list(
        ProfileMerge.objects.values_list(
            "into_profile", "other_profile_id", "outcome", "cause", "identifiers"
        )
    ) == [
        (
            user_profile.pk,
            other_profile.pk,
            "refused",
            "identify refused-call via source web: both profiles have a userId",
            [],
        )
    ]


def test_refused_merge_leaves_the_other_profile_its_identifiers(source):
    track(source, userId="u-1")
    other_profile = stored_event(track(source, userId="u-2", anonymousId="a-2")).profile

    identify(source, userId="u-1", anonymousId="a-2")

    other_profile.refresh_from_db()
    assert other_profile.merged_into is None
    assert identifiers_of(other_profile) == [
        ("anonymous_id", "a-2"),
        ("user_id", "u-2"),
    ]
    assert identifiers_of(profile_of("user_id", "u-1")) == [("user_id", "u-1")]


def test_refused_merge_stores_the_event_under_the_users_profile(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    track(source, userId="u-2", anonymousId="a-2")

    result = identify(source, userId="u-1", anonymousId="a-2")

    assert stored_event(result).profile == user_profile


def test_refused_merge_keeps_the_other_users_contact_apart(source):
    identify(source, {"phone": PHONE}, userId="u-2", anonymousId="a-2")
    track(source, userId="u-1")

    result = identify(source, userId="u-1", anonymousId="a-2")

    assert stored_event(result).contact is None
    assert list(Contact.objects.get().profiles.all()) == [profile_of("user_id", "u-2")]


def test_unknown_user_with_another_users_anonymous_id_is_kept_apart(source):
    other_profile = stored_event(track(source, userId="u-2", anonymousId="a-2")).profile

    result = identify(source, userId="u-1", anonymousId="a-2")

    assert stored_event(result).profile != other_profile
    assert identifiers_of(other_profile) == [
        ("anonymous_id", "a-2"),
        ("user_id", "u-2"),
    ]
    assert list(ProfileMerge.objects.values_list("outcome", flat=True)) == ["refused"]


def test_refused_merge_is_answered_with_a_warning(source):
    track(source, userId="u-1")
    other_profile = stored_event(track(source, userId="u-2", anonymousId="a-2")).profile
    body = {
        "type": "identify",
        "messageId": "refused-call",
        "userId": "u-1",
        "anonymousId": "a-2",
    }
    token = base64.b64encode(f"{source.write_key}:".encode()).decode()

    response = APIClient().post(
        "/v1/identify",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "warnings": [
            {
                "index": 0,
                "messageId": "refused-call",
                "code": "merge_refused",
                "message": (
                    f"not merged: profile {other_profile.pk} already belongs to "
                    "another userId"
                ),
            }
        ],
    }


def test_refused_merge_is_written_to_the_source_log(source):
    track(source, userId="u-1")
    track(source, userId="u-2", anonymousId="a-2")

    send(
        source,
        {
            "type": "identify",
            "messageId": "refused-call",
            "userId": "u-1",
            "anonymousId": "a-2",
        },
    )

    assert list(SourceLogEntry.objects.values_list("level", "code", "message_id")) == [
        ("warning", "merge_refused", "refused-call")
    ]


def test_alias_of_an_identified_previous_user_merges_it(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    previous_profile = stored_event(
        track(source, userId="u-old", anonymousId="a-old")
    ).profile

    alias(source, userId="u-1", previousId="u-old")

    previous_profile.refresh_from_db()
    assert previous_profile.merged_into == user_profile
    assert identifiers_of(user_profile) == [
        ("anonymous_id", "a-old"),
        ("user_id", "u-1"),
        ("user_id", "u-old"),
    ]


def test_alias_records_the_merge_with_its_call_and_identifiers(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    previous_profile = stored_event(
        track(source, userId="u-old", anonymousId="a-old")
    ).profile

    send(
        source,
        {
            "type": "alias",
            "messageId": "alias-call",
            "userId": "u-1",
            "previousId": "u-old",
        },
    )

    merge = ProfileMerge.objects.get()
    assert (
        merge.into_profile_id,
        merge.other_profile_id,
        merge.outcome,
        merge.cause,
        sorted(merge.identifiers),
    ) == (
        user_profile.pk,
        previous_profile.pk,
        "merged",
        "alias alias-call via source web",
        ["anonymous_id=a-old", "user_id=u-old"],
    )


def test_alias_answers_without_warnings(source):
    track(source, userId="u-1")
    track(source, userId="u-old")

    result = alias(source, userId="u-1", previousId="u-old")

    assert (result.errors, result.warnings) == ([], [])


def test_alias_gives_the_users_contact_the_previous_users_events(source):
    identify(source, {"phone": PHONE}, userId="u-1")
    previous_event = stored_event(track(source, userId="u-old"))

    alias(source, userId="u-1", previousId="u-old")

    previous_event.refresh_from_db()
    assert previous_event.contact == Contact.objects.get()


def test_events_under_the_previous_user_id_after_alias_go_to_the_user(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    track(source, userId="u-old")
    alias(source, userId="u-1", previousId="u-old")

    result = track(source, userId="u-old")

    assert stored_event(result).profile == user_profile


def test_alias_with_unknown_previous_id_adds_it_as_the_users_anonymous_id(source):
    user_profile = stored_event(track(source, userId="u-1")).profile

    alias(source, userId="u-1", previousId="a-new")

    assert identifiers_of(user_profile) == [
        ("anonymous_id", "a-new"),
        ("user_id", "u-1"),
    ]
    assert not ProfileMerge.objects.exists()


def test_alias_of_an_id_the_user_already_has_changes_nothing(source):
    user_profile = stored_event(track(source, userId="u-1", anonymousId="a-1")).profile

    alias(source, userId="u-1", previousId="a-1")

    assert identifiers_of(user_profile) == [
        ("anonymous_id", "a-1"),
        ("user_id", "u-1"),
    ]
    assert not ProfileMerge.objects.exists()


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", "guest"])
def test_users_sending_the_same_generic_anonymous_id_are_not_joined(source, generic):
    track(source, userId="u-1", anonymousId=generic)

    track(source, userId="u-2", anonymousId=generic)

    assert profile_of("user_id", "u-1") != profile_of("user_id", "u-2")
    assert not ProfileMerge.objects.exists()
    assert not ProfileIdentifier.objects.filter(kind="anonymous_id").exists()


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", "guest"])
def test_alias_to_a_generic_previous_id_is_rejected(source, generic):
    track(source, userId="u-1")

    result = alias(source, userId="u-1", previousId=generic)

    assert [error.code for error in result.errors] == ["missing_identity"]
    assert not ProfileMerge.objects.exists()
    assert Event.objects.filter(type="alias").count() == 0


def test_profile_admin_page_shows_its_merges(source):
    user_profile = stored_event(track(source, userId="u-1")).profile
    track(source, anonymousId="a-1")
    send(
        source,
        {
            "type": "identify",
            "messageId": "merge-call",
            "userId": "u-1",
            "anonymousId": "a-1",
        },
    )
    client = Client()
    client.force_login(User.objects.create_superuser(username="ops"))

    response = client.get(f"/admin/contacts/profile/{user_profile.pk}/change/")

    assert response.status_code == 200
    assert "identify merge-call via source web" in response.content.decode()


@pytest.mark.parametrize("user_known", [True, False], ids=["known-user", "new-user"])
def test_anonymous_id_after_a_refused_merge_in_one_batch_stays_with_its_user(
    source, user_known
):
    other_profile = stored_event(track(source, userId="u-2", anonymousId="a-2")).profile
    if user_known:
        track(source, userId="u-1")
    batch = [
        {"type": "identify", "userId": "u-1", "anonymousId": "a-2"},
        {"type": "track", "event": "Viewed", "anonymousId": "a-2"},
    ]

    result = ingest_events(source, batch)

    assert Event.objects.get(pk=result.stored[1]).profile == other_profile
