"""Twilio's webhooks: inbound SMS and delivery status, each signature-checked."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from agents import services
from agents.clients.twilio import webhook_auth_token
from contacts.errors import InvalidPhoneError
from regal.api import json_error

logger = logging.getLogger(__name__)


def twilio_signed(view):
    """Refuse, with 403 and nothing stored, a request Twilio did not sign.

    Twilio signs the URL it was given, so the check uses PUBLIC_URL, not the
    Host header a proxy may have rewritten.
    """

    def wrapped(request: HttpRequest) -> HttpResponse:
        url = settings.PUBLIC_URL + request.get_full_path()
        signature = request.headers.get("X-Twilio-Signature", "")
        validator = RequestValidator(webhook_auth_token())
        if not signature or not validator.validate(url, request.POST, signature):
            logger.warning("refused a Twilio webhook with a bad signature: %s", url)
            return json_error(
                request,
                status=403,
                code="invalid_signature",
                message="the X-Twilio-Signature header does not match this request",
            )
        return view(request)

    return csrf_exempt(require_POST(wrapped))


@twilio_signed
def inbound_sms(request: HttpRequest) -> HttpResponse:
    try:
        services.receive_sms(
            from_number=request.POST.get("From", ""),
            body=request.POST.get("Body", ""),
            sid=request.POST.get("MessageSid", ""),
        )
    except InvalidPhoneError as exc:
        # Answered all the same: Twilio would only retry what we cannot store.
        logger.warning("inbound SMS not stored: %s", exc.message)
    return HttpResponse(str(MessagingResponse()), content_type="text/xml")


@twilio_signed
def sms_status(request: HttpRequest) -> HttpResponse:
    services.update_sms_status(
        request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@twilio_signed
def call_status(request: HttpRequest) -> HttpResponse:
    try:
        services.record_call_status(
            request.POST.get("CallSid", ""),
            status=request.POST.get("CallStatus", ""),
            direction=request.POST.get("Direction", ""),
            to_number=request.POST.get("To", ""),
            from_number=request.POST.get("From", ""),
            duration=request.POST.get("CallDuration", ""),
        )
    except InvalidPhoneError as exc:
        logger.warning("call status not recorded: %s", exc.message)
    return HttpResponse(status=204)
