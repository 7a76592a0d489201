"""Segment's Node SDK (@segment/analytics-node) against a live Regal.

tests/node/send.mjs sends the calls a test gives it through the real SDK, in
a real node process, and exits non-zero unless every call was delivered.
`make test` installs the SDK with `npm ci --prefix tests/node` when npm is
there; without node or those modules the tests skip, and fail in CI.
"""

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contacts.choices import Channel
from contacts.models import Contact, ContactConsent, ContactConsentChange
from events.models import Event
from tests.conftest import require
from tests.factories import make_source

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).parent / "node"
SDK_DIR = NODE_DIR / "node_modules" / "@segment" / "analytics-node"
PHONE = "+14155552671"
# send.mjs gives up on a flush after 15 s; this bounds node itself.
NODE_TIMEOUT_SECONDS = 30


@pytest.fixture
def node() -> str:
    """The node binary, once the SDK is installed beside send.mjs."""
    node = shutil.which("node")
    require(node is not None, "node is not installed: install Node.js 18 or later")
    require(
        SDK_DIR.is_dir(),
        "@segment/analytics-node is not installed: run `npm ci --prefix tests/node`",
    )
    return node


@pytest.fixture
def source(transactional_db):
    return make_source()


def send(
    node: str, url: str, write_key: str, calls: list[dict], *, batch_size: int = 15
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [node, str(NODE_DIR / "send.mjs"), url, write_key, json.dumps(calls)],
        env={**os.environ, "MAX_EVENTS_IN_BATCH": str(batch_size)},
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )


def test_segment_node_identify_makes_contact_with_sms_consent(node, live_regal, source):
    opt_in = {
        "channel": "sms",
        "subscribed": True,
        "timestamp": "2024-05-01T12:00:00Z",
        "ip": "203.0.113.9",
        "text": "Reply YES to get texts",
        "source": "signup-api",
    }
    identify = {
        "type": "identify",
        "userId": "user-1",
        "messageId": "identify-1",
        "traits": {"phone": PHONE, "firstName": "Ada", "optIn": [opt_in]},
    }

    sent = send(node, live_regal.url, source.write_key, [identify], batch_size=1)

    assert (sent.returncode, sent.stderr) == (0, "")
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name) == (PHONE, "Ada")
    assert Event.objects.get(message_id="identify-1").contact == contact
    consent = ContactConsent.objects.get()
    assert (consent.channel, consent.address, consent.subscribed) == (
        Channel.SMS,
        PHONE,
        True,
    )
    change = ContactConsentChange.objects.get()
    assert (change.source, change.ip, change.text, change.occurred_at) == (
        "signup-api",
        "203.0.113.9",
        "Reply YES to get texts",
        datetime(2024, 5, 1, 12, tzinfo=UTC),
    )


def test_segment_node_batched_calls_are_stored(node, live_regal, source):
    calls = [
        {"type": "track", "anonymousId": "visitor-1", "event": "Viewed Pricing"},
        {"type": "alias", "userId": "user-1", "previousId": "visitor-1"},
        {"type": "track", "userId": "user-1", "event": "Application Started"},
        {"type": "page", "userId": "user-1", "name": "Pricing"},
        {"type": "screen", "userId": "user-1", "name": "Welcome"},
        {"type": "group", "userId": "user-1", "groupId": "acme"},
    ]
    for number, call in enumerate(calls, start=1):
        call["messageId"] = f"call-{number}"

    sent = send(node, live_regal.url, source.write_key, calls)

    assert (sent.returncode, sent.stderr) == (0, "")
    assert list(
        Event.objects.order_by("message_id").values_list(
            "message_id", "type", "name", "user_id", "previous_id", "group_id"
        )
    ) == [
        ("call-1", "track", "Viewed Pricing", "", "", ""),
        ("call-2", "alias", "", "user-1", "visitor-1", ""),
        ("call-3", "track", "Application Started", "user-1", "", ""),
        ("call-4", "page", "Pricing", "user-1", "", ""),
        ("call-5", "screen", "Welcome", "user-1", "", ""),
        ("call-6", "group", "", "user-1", "", "acme"),
    ]


def test_segment_node_send_fails_on_an_unknown_write_key(node, live_regal, source):
    track = {"type": "track", "userId": "user-1", "event": "Application Started"}

    sent = send(node, live_regal.url, "no-such-key", [track])

    assert sent.returncode == 1
    assert "[401] Unauthorized" in sent.stderr
    assert not Event.objects.exists()
