"""Post webhooks to Regal the way Twilio does: form-encoded and signed."""

import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from twilio.request_validator import RequestValidator

from agents.clients.twilio import webhook_auth_token


@dataclass
class WebhookResponse:
    status: int
    body: str


def inbound_sms_params(
    *, from_number: str, body: str, to: str = "+15005550006"
) -> dict:
    return {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": f"AC{'0' * 32}",
        "From": from_number,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def post_webhook(
    url: str, params: dict, *, token: str | None = None, sign: bool = True
) -> WebhookResponse:
    """POST `params` to `url`, signed with `token` (default: Regal's own)."""
    headers = {}
    if sign:
        validator = RequestValidator(token or webhook_auth_token())
        headers["X-Twilio-Signature"] = validator.compute_signature(url, params)
    request = urllib.request.Request(  # noqa: S310
        url, data=urllib.parse.urlencode(params).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return WebhookResponse(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return WebhookResponse(exc.code, exc.read().decode())
