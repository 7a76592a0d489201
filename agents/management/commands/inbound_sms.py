import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from twilio.request_validator import RequestValidator

from agents.clients.twilio import webhook_auth_token


class Command(BaseCommand):
    help = (
        "Post an inbound SMS to Regal's Twilio webhook, signed as Twilio signs it. "
        "For trying Regal without a Twilio number."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_number", required=True)
        parser.add_argument(
            "--to", default=settings.TWILIO_FROM_NUMBER or "+15005550006"
        )
        parser.add_argument("body")

    def handle(self, *args, from_number: str, to: str, body: str, **options):
        url = f"{settings.PUBLIC_URL}/twilio/sms"
        params = {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": settings.TWILIO_ACCOUNT_SID or f"AC{'0' * 32}",
            "From": from_number,
            "To": to,
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(webhook_auth_token()).compute_signature(
            url, params
        )
        request = urllib.request.Request(  # noqa: S310
            url,
            data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                self.stdout.write(f"{response.status}: {response.read().decode()}")
        except urllib.error.URLError as exc:
            raise CommandError(f"could not post to {url}: {exc}") from exc
