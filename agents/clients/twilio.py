"""The SMS gateway: Twilio through its official library, or the console.

With no Twilio credentials, Regal uses the console gateway, which logs what it
would send, as Django's console e-mail backend does.
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings
from django.utils.crypto import salted_hmac
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from contacts.phones import mask_phone

logger = logging.getLogger(__name__)

TWILIO_API_ORIGIN = "https://api.twilio.com"
# Twilio answers 429 when we exceed our rate; it has not taken the message.
RETRYABLE_STATUSES = {429}


@dataclass
class SentSms:
    sid: str
    status: str


class GatewayError(Exception):
    """The gateway refused or did not answer. `retryable` says whether to try again.

    Only failures where Twilio surely did not take the message are retryable: a
    refused connection or a 429. A timeout or a 5xx may hide a message Twilio
    did take, and a second try could text the person twice.
    """

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class SmsGateway(Protocol):
    def send_sms(
        self,
        *,
        to: str,
        body: str,
        status_callback: str | None,
        media_url: str | None = None,
        validity_period: int | None = None,
    ) -> SentSms: ...


class ConsoleGateway:
    def send_sms(
        self,
        *,
        to: str,
        body: str,
        status_callback: str | None,
        media_url: str | None = None,
        validity_period: int | None = None,
    ) -> SentSms:
        sid = f"console-{uuid.uuid4().hex}"
        media = f" [media {media_url}]" if media_url else ""
        logger.info("console SMS %s to %s: %s%s", sid, mask_phone(to), body, media)
        return SentSms(sid=sid, status="sent")


class RedirectingHttpClient(TwilioHttpClient):
    """Send the twilio library's requests to another origin than api.twilio.com.

    Used by the tests to reach a local stand-in with the real client.
    """

    def __init__(self, *, origin: str, timeout: float):
        super().__init__(timeout=timeout)
        self.origin = origin

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API_ORIGIN):
            url = self.origin + url[len(TWILIO_API_ORIGIN) :]
        return super().request(method, url, *args, **kwargs)


class TwilioGateway:
    def __init__(self, *, account_sid: str, auth_token: str, from_number: str):
        timeout = settings.TWILIO_TIMEOUT_SECONDS
        if settings.TWILIO_API_BASE_URL:
            http_client = RedirectingHttpClient(
                origin=settings.TWILIO_API_BASE_URL, timeout=timeout
            )
        else:
            http_client = TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number

    def send_sms(
        self,
        *,
        to: str,
        body: str,
        status_callback: str | None,
        media_url: str | None = None,
        validity_period: int | None = None,
    ) -> SentSms:
        optional = {
            "media_url": [media_url] if media_url else values.unset,
            "validity_period": validity_period or values.unset,
        }
        try:
            message = self.client.messages.create(
                to=to,
                from_=self.from_number,
                body=body,
                status_callback=status_callback,
                **optional,
            )
        except TwilioRestException as exc:
            raise GatewayError(
                f"Twilio refused the message: {exc.status} {exc.code} {exc.msg}",
                retryable=exc.status in RETRYABLE_STATUSES,
            ) from exc
        except requests.ConnectionError as exc:
            # A connect timeout is a ConnectionError too; a read timeout is not.
            raise GatewayError(
                f"could not reach Twilio: {exc}", retryable=True
            ) from exc
        except requests.Timeout as exc:
            raise GatewayError(
                f"Twilio did not answer: {exc}", retryable=False
            ) from exc
        logger.info("twilio accepted SMS %s to %s", message.sid, mask_phone(to))
        return SentSms(sid=message.sid, status=message.status or "queued")


def get_sms_gateway() -> SmsGateway:
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        return TwilioGateway(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM_NUMBER,
        )
    return ConsoleGateway()


def webhook_auth_token() -> str:
    """The token Twilio signs its webhooks with.

    Without Twilio credentials there is no Twilio to sign anything, yet the
    webhook must still refuse unsigned requests; a token derived from
    SECRET_KEY lets `manage.py inbound_sms` sign replies for local trials.
    """
    if settings.TWILIO_AUTH_TOKEN:
        return settings.TWILIO_AUTH_TOKEN
    return salted_hmac("regal.console-twilio-token", "webhooks").hexdigest()


def status_callback_url() -> str:
    return f"{settings.PUBLIC_URL}/twilio/sms/status"
