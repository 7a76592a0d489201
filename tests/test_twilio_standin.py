"""The Twilio stand-in refuses what Twilio refuses, and answers what Twilio answers.

The other SMS tests trust it; these pin down that it checks what it claims to.
"""

import json
from pathlib import Path

import pytest
import requests

SPEC = json.loads((Path(__file__).parent / "twilio_spec" / "messages.json").read_text())


def post_message(standin, params: dict, *, auth: tuple | None = None):
    return requests.post(
        f"{standin.url}/2010-04-01/Accounts/{standin.account_sid}/Messages.json",
        data=params,
        auth=auth or (standin.account_sid, standin.auth_token),
        timeout=5,
    )


def valid_params(standin, **overrides) -> dict:
    return {
        "To": "+14155550100",
        "From": standin.from_number,
        "Body": "Hi",
        **overrides,
    }


def test_standin_answers_a_message_resource_with_the_specs_fields(twilio_standin):
    response = post_message(twilio_standin, valid_params(twilio_standin))

    assert response.status_code == 201
    resource = response.json()
    assert sorted(resource) == sorted(SPEC["message"]["properties"])
    assert (resource["to"], resource["from"], resource["body"], resource["status"]) == (
        "+14155550100",
        twilio_standin.from_number,
        "Hi",
        "queued",
    )
    assert resource["sid"].startswith("SM")
    assert len(resource["sid"]) == 34


def test_standin_records_what_it_accepted(twilio_standin):
    params = valid_params(twilio_standin, StatusCallback="http://127.0.0.1/status")

    response = post_message(twilio_standin, params)

    assert [(m.sid, m.params) for m in twilio_standin.messages] == [
        (response.json()["sid"], params)
    ]


def test_standin_refuses_a_wrong_auth_token(twilio_standin):
    response = post_message(
        twilio_standin,
        valid_params(twilio_standin),
        auth=(twilio_standin.account_sid, "wrong"),
    )

    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert twilio_standin.messages == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Colour": "blue"}, 20001),
        ({"To": ""}, 21604),
        ({"To": "555-0100"}, 21211),
        ({"From": ""}, 21603),
        ({"Body": ""}, 21602),
        ({"Body": "x" * 1601}, 21605),
        ({"StatusCallback": "not a url"}, 21609),
        ({"ValidityPeriod": "soon"}, 20001),
        ({"ContentRetention": "forever"}, 20001),
        ({"MessagingServiceSid": "MG123"}, 20001),
    ],
    ids=[
        "unknown-parameter",
        "no-to",
        "to-not-e164",
        "no-from",
        "no-body",
        "body-too-long",
        "status-callback-not-a-url",
        "integer-not-a-number",
        "value-not-in-enum",
        "sid-not-matching-pattern",
    ],
)
def test_standin_refuses_parameters_twilio_refuses(twilio_standin, params, code):
    response = post_message(twilio_standin, valid_params(twilio_standin, **params))

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert twilio_standin.messages == []


def test_standin_fails_the_next_requests_it_is_told_to(twilio_standin):
    twilio_standin.fail_next(2, status=429)

    statuses = [
        post_message(twilio_standin, valid_params(twilio_standin)).status_code
        for _ in range(3)
    ]

    assert statuses == [429, 429, 201]
    assert len(twilio_standin.messages) == 1
