"""A local stand-in for Twilio's Messages API, driven by the real twilio client.

It answers POST /2010-04-01/Accounts/{AccountSid}/Messages.json the way
Twilio does: HTTP Basic auth with the account SID and auth token, form
parameters checked against Twilio's own OpenAPI description of
CreateMessageRequest (kept in twilio_spec/messages.json), and a 201 with a
message resource holding exactly the fields of `api.v2010.account.message`.
Errors carry Twilio's JSON error body and, where Twilio documents one, its
error code.

It runs in a thread of the test process, records every request and every
message it accepts, and can be told to fail the next requests with a given
status. Point Regal at it with the settings or environment of `settings()`.
"""

import base64
import binascii
import email.utils
import json
import logging
import math
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.live import wait_for
from tests.twilio_webhooks import WebhookResponse, post_webhook

logger = logging.getLogger(__name__)

SPEC = json.loads((Path(__file__).parent / "twilio_spec" / "messages.json").read_text())
REQUEST_PROPERTIES: dict = SPEC["request"]["properties"]
REQUIRED_PARAMETERS: list = SPEC["request"]["required"]
MESSAGE_FIELDS: dict = SPEC["message"]["properties"]
MESSAGE_STATUSES: list = MESSAGE_FIELDS["status"]["enum"]

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(
    "^"
    + re.escape(SPEC["path"]).replace(
        re.escape("{AccountSid}"), "(?P<account_sid>[^/]+)"
    )
    + "$"
)
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Twilio also takes channel addresses such as whatsapp:+15552229999.
CHANNEL_ADDRESS = re.compile(r"^[a-z]+:\S+$")
MAX_BODY_CHARS = 1600

# Twilio's error codes, from its error dictionary.
UNKNOWN_PARAMETERS = 20001
AUTHENTICATE = 20003
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429
INTERNAL_SERVER_ERROR = 20500
SERVICE_UNAVAILABLE = 20503
INVALID_TO = 21211
INVALID_FROM = 21212
BODY_REQUIRED = 21602
FROM_REQUIRED = 21603
TO_REQUIRED = 21604
BODY_TOO_LONG = 21605
INVALID_STATUS_CALLBACK = 21609
INVALID_MEDIA_URL = 21620

# An invalid value of any other parameter gets UNKNOWN_PARAMETERS, the nearest
# generic code in Twilio's dictionary.
INVALID_VALUE_CODES = {
    "To": INVALID_TO,
    "From": INVALID_FROM,
    "StatusCallback": INVALID_STATUS_CALLBACK,
    "MediaUrl": INVALID_MEDIA_URL,
}
# What a forced failure answers when the test names only the status.
FORCED_FAILURES = {
    400: (INVALID_TO, "The 'To' number is not a valid phone number."),
    401: (AUTHENTICATE, "Authenticate"),
    429: (TOO_MANY_REQUESTS, "Too Many Requests"),
    500: (INTERNAL_SERVER_ERROR, "Internal Server Error"),
    503: (SERVICE_UNAVAILABLE, "Service Unavailable"),
}


class TwilioError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass(frozen=True)
class StandinRequest:
    """One POST the stand-in answered, accepted or not."""

    path: str
    params: dict
    status: int


@dataclass(frozen=True)
class StandinMessage:
    """One message the stand-in accepted: the parameters sent, the resource answered."""

    sid: str
    params: dict
    resource: dict
    # time.monotonic() when it arrived, to compare with when a test acted.
    received_at: float


@dataclass
class ForcedFailure:
    remaining: int
    error: TwilioError


class TwilioStandin:
    """Twilio's Messages API for one account, served on 127.0.0.1."""

    def __init__(self, *, from_number: str = "+15005550006"):
        self.account_sid = f"AC{secrets.token_hex(16)}"
        self.auth_token = secrets.token_hex(16)
        self.from_number = from_number
        self._lock = threading.Lock()
        self._requests: list[StandinRequest] = []
        self._messages: list[StandinMessage] = []
        self._failures: list[ForcedFailure] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), StandinRequestHandler)
        self._server.daemon_threads = True
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="twilio-standin",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def settings(self) -> dict[str, str]:
        """The TWILIO_* settings (or environment) that point Regal here."""
        return {
            "TWILIO_API_BASE_URL": self.url,
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def requests(self) -> list[StandinRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[StandinMessage]:
        with self._lock:
            return list(self._messages)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `count` authenticated requests with this error."""
        default_code, default_message = FORCED_FAILURES.get(
            status, (INTERNAL_SERVER_ERROR, "Error")
        )
        error = TwilioError(status, code or default_code, message or default_message)
        with self._lock:
            self._failures.append(ForcedFailure(remaining=count, error=error))

    def wait_for_messages(
        self, count: int, *, timeout: float = 10.0
    ) -> list[StandinMessage]:
        """Wait until at least `count` messages were accepted; return them all."""
        return wait_for(
            lambda: len(self.messages) >= count and self.messages,
            timeout=timeout,
            interval=0.05,
            message=(
                f"the Twilio stand-in did not receive {count} message(s) within "
                f"{timeout}s; it has {self.messages!r}"
            ),
        )

    def post_status_callback(
        self, message: StandinMessage, status: str, *, error_code: str = ""
    ) -> WebhookResponse:
        """POST a status callback for the message, signed as Twilio signs it."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.params.get("From", ""),
            "To": message.params["To"],
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
        }
        if error_code:
            params["ErrorCode"] = error_code
        return post_webhook(
            message.params["StatusCallback"], params, token=self.auth_token
        )

    def answer_post(self, path: str, *, authorization: str, body: str) -> tuple:
        """Answer one POST; return (status, JSON payload)."""
        params = parse_form(body)
        try:
            status, payload = 201, self.create_message(path, authorization, params)
        except TwilioError as error:
            status, payload = error.status, error.as_json()
        with self._lock:
            self._requests.append(StandinRequest(path, params, status))
        return status, payload

    def create_message(self, path: str, authorization: str, params: dict) -> dict:
        match = MESSAGES_PATH.match(path)
        if match is None:
            raise TwilioError(
                404, NOT_FOUND, f"The requested resource {path} was not found"
            )
        if match["account_sid"] != self.account_sid or not self.is_authorized(
            authorization
        ):
            raise TwilioError(401, AUTHENTICATE, "Authenticate")
        self.raise_forced_failure()
        check_parameters(params)
        resource = message_resource(self.account_sid, params)
        with self._lock:
            self._messages.append(
                StandinMessage(resource["sid"], params, resource, time.monotonic())
            )
        return resource

    def is_authorized(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(decoded, f"{self.account_sid}:{self.auth_token}")

    def raise_forced_failure(self) -> None:
        with self._lock:
            if not self._failures:
                return
            failure = self._failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.pop(0)
        raise failure.error


class StandinRequestHandler(BaseHTTPRequestHandler):
    server_version = "TwilioStandin/1.0"

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        status, payload = self.server.standin.answer_post(
            urllib.parse.urlsplit(self.path).path,
            authorization=self.headers.get("Authorization", ""),
            body=body,
        )
        self.send_json(status, payload)

    def do_GET(self):  # noqa: N802
        path = urllib.parse.urlsplit(self.path).path
        error = TwilioError(
            404, NOT_FOUND, f"The requested resource {path} was not found"
        )
        self.send_json(error.status, error.as_json())

    def send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        logger.debug("twilio stand-in: " + format, *args)  # noqa: G003


def parse_form(body: str) -> dict:
    """Form fields as Twilio reads them: arrays as lists, the rest as strings."""
    params: dict = {}
    for name, values in urllib.parse.parse_qs(body, keep_blank_values=True).items():
        is_array = REQUEST_PROPERTIES.get(name, {}).get("type") == "array"
        params[name] = values if is_array or len(values) > 1 else values[0]
    return params


def check_parameters(params: dict) -> None:
    """Refuse what CreateMessageRequest does not describe, or what Twilio refuses.

    Twilio itself ignores a parameter it does not know; the stand-in refuses
    it, so that a misspelt parameter fails a test instead of passing unseen.
    """
    unknown = sorted(set(params) - set(REQUEST_PROPERTIES))
    if unknown:
        raise TwilioError(
            400, UNKNOWN_PARAMETERS, f"Unknown parameters: {', '.join(unknown)}"
        )
    for name in REQUIRED_PARAMETERS:
        if not params.get(name):
            raise TwilioError(400, TO_REQUIRED, f"A '{name}' phone number is required.")
    # Rules Twilio documents in prose rather than in the schema.
    if not (params.get("From") or params.get("MessagingServiceSid")):
        raise TwilioError(400, FROM_REQUIRED, "A 'From' phone number is required.")
    if not (params.get("Body") or params.get("MediaUrl") or params.get("ContentSid")):
        raise TwilioError(400, BODY_REQUIRED, "Message body is required.")
    for name, value in params.items():
        if value in ("", []):
            continue
        problem = value_problem(REQUEST_PROPERTIES[name], value)
        if problem:
            code = INVALID_VALUE_CODES.get(name, UNKNOWN_PARAMETERS)
            raise TwilioError(400, code, f"Invalid '{name}' parameter: {problem}")
    if len(params.get("Body", "")) > MAX_BODY_CHARS:
        raise TwilioError(
            400,
            BODY_TOO_LONG,
            f"The message body exceeds the {MAX_BODY_CHARS} character limit.",
        )


def value_problem(schema: dict, value: str | list) -> str | None:
    """Say what is wrong with a form value for its schema, or None."""
    if schema.get("type") == "array":
        if not isinstance(value, list):
            return "expected a list"
        problems = (value_problem(schema["items"], item) for item in value)
        return next((problem for problem in problems if problem), None)
    if isinstance(value, list):
        return "given more than once"
    return scalar_problem(schema, value)


def scalar_problem(schema: dict, value: str) -> str | None:
    kind = schema.get("type")
    if kind == "boolean" and value.lower() not in {"true", "false"}:
        return f"{value!r} is not a boolean"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{value!r} is not an integer"
    if kind == "number" and not is_number(value):
        return f"{value!r} is not a number"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    if len(value) < schema.get("minLength", 0):
        return f"shorter than {schema['minLength']} characters"
    if len(value) > schema.get("maxLength", math.inf):
        return f"longer than {schema['maxLength']} characters"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"does not match {schema['pattern']}"
    if schema.get("x-twilio", {}).get("ignoreFormat"):
        return None
    return format_problem(schema.get("format"), value)


def format_problem(kind: str | None, value: str) -> str | None:
    if kind == "phone-number" and not (
        E164.match(value) or CHANNEL_ADDRESS.match(value)
    ):
        return f"{value!r} is not an E.164 phone number"
    if kind == "uri":
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return f"{value!r} is not an http(s) URL"
    if kind == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not an ISO 8601 date-time"
    return None


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def message_resource(account_sid: str, params: dict) -> dict:
    """The message resource Twilio answers a create with: the spec's fields only."""
    sid = f"SM{secrets.token_hex(16)}"
    now = email.utils.format_datetime(datetime.now(UTC))
    body = params.get("Body", "")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    # Through a Messaging Service with no From, Twilio has yet to pick a sender.
    status = "queued" if params.get("From") else "accepted"
    values = {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": params.get("From"),
        "messaging_service_sid": params.get("MessagingServiceSid"),
        "num_media": str(len(params.get("MediaUrl", []))),
        "num_segments": str(segment_count(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": params["To"],
        "uri": f"{uri}.json",
    }
    if status not in MESSAGE_STATUSES:
        raise ValueError(f"{status!r} is not a status of Twilio's message resource")
    # A KeyError here means the spec grew a field the stand-in does not fill.
    return {name: values[name] for name in MESSAGE_FIELDS}


def segment_count(body: str) -> int:
    # One GSM-7 SMS holds 160 characters; the parts of a longer one hold 153.
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


@contextmanager
def running_twilio_standin() -> Iterator[TwilioStandin]:
    """Serve a fresh stand-in, with its own account, for the length of the block."""
    standin = TwilioStandin()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
