"""Twilio's call status callback becomes the contact's call.completed event."""

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from agents.clients.twilio import webhook_auth_token
from events.models import Event

pytestmark = pytest.mark.django_db

URL_PATH = "/twilio/voice/status"


def post_signed(settings, params: dict, *, sign: bool = True):
    url = settings.PUBLIC_URL + URL_PATH
    headers = {}
    if sign:
        signature = RequestValidator(webhook_auth_token()).compute_signature(
            url, params
        )
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return Client().post(URL_PATH, params, **headers)


def call_params(**overrides) -> dict:
    return {
        "CallSid": "CA" + "1" * 32,
        "CallStatus": "completed",
        "Direction": "outbound-api",
        "From": "+15005550006",
        "To": "+14155550123",
        "CallDuration": "42",
        **overrides,
    }


def test_call_status_completed_records_call_completed_for_the_callee(settings):
    response = post_signed(settings, call_params())

    assert response.status_code == 204
    event = Event.objects.get(name="call.completed")
    assert event.contact.phone == "+14155550123"
    assert event.properties == {
        "call_sid": "CA" + "1" * 32,
        "status": "completed",
        "direction": "outbound",
        "duration_seconds": 42,
    }


def test_call_status_of_an_inbound_call_is_the_caller_s(settings):
    post_signed(
        settings,
        call_params(Direction="inbound", From="+14155550199", To="+15005550006"),
    )

    assert Event.objects.get(name="call.completed").contact.phone == "+14155550199"


@pytest.mark.parametrize("status", ["queued", "ringing", "in-progress"])
def test_call_status_that_is_not_final_records_nothing(settings, status):
    response = post_signed(settings, call_params(CallStatus=status))

    assert response.status_code == 204
    assert not Event.objects.filter(name="call.completed").exists()


def test_call_status_sent_twice_records_one_event(settings):
    post_signed(settings, call_params())

    post_signed(settings, call_params())

    assert Event.objects.filter(name="call.completed").count() == 1


def test_unsigned_call_status_is_refused_and_records_nothing(settings):
    response = post_signed(settings, call_params(), sign=False)

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"
    assert not Event.objects.exists()
