"""RudderStack's Python SDK, with its defaults, against a live Regal.

Its defaults differ from Segment's in the two ways that matter here: it
sends from a background consumer thread with gzip on, and an identify's
traits go in `context.traits`, not at the top of the call (rudderstack/
analytics/client.py, `identify`). Regal must make the contact from there.
The module-level API builds the same `Client(write_key, host=dataPlaneUrl)`
with the same defaults; the client is made directly so that no state
outlives a test.
"""

import threading

import pytest
from rudderstack.analytics import Client as RudderClient

from contacts.models import Contact
from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.e2e

PHONE = "+14155552671"
# The SDK's flush waits on its queue without a limit; ours does not.
FLUSH_TIMEOUT_SECONDS = 20


@pytest.fixture
def source(transactional_db):
    return make_source()


@pytest.fixture
def sent_errors():
    return []


@pytest.fixture
def rudder(live_regal, source, sent_errors):
    """The SDK with its defaults, its data plane URL the live server's."""
    return RudderClient(
        source.write_key,
        host=live_regal.url,
        on_error=lambda error, batch: sent_errors.append(error),
    )


def finish_within(action, seconds: float) -> None:
    """Run a blocking SDK call in a thread; fail if it outlasts `seconds`."""
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{action.__name__} still blocked after {seconds}s"


def send_all(client: RudderClient) -> None:
    finish_within(client.flush, FLUSH_TIMEOUT_SECONDS)
    finish_within(client.shutdown, FLUSH_TIMEOUT_SECONDS)


def test_rudderstack_identify_makes_contact_from_context_traits(rudder, sent_errors):
    traits = {"phone": "(415) 555-2671", "firstName": "Ada", "plan": "gold"}

    rudder.identify("user-1", traits, message_id="identify-1")
    send_all(rudder)

    assert sent_errors == []
    event = Event.objects.exclude(source__name="regal").get()
    assert (event.traits, event.context["traits"]) == ({}, traits)
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.properties) == (
        PHONE,
        "Ada",
        {"plan": "gold"},
    )
    assert event.contact == contact


def test_rudderstack_track_is_stored_for_the_identified_contact(rudder, sent_errors):
    rudder.identify("user-1", {"phone": PHONE}, message_id="identify-1")
    rudder.track("user-1", "Application Started", {"step": 1}, message_id="track-1")
    send_all(rudder)

    assert sent_errors == []
    event = Event.objects.get(message_id="track-1")
    assert (event.type, event.name, event.properties, event.contact.phone) == (
        "track",
        "Application Started",
        {"step": 1},
        PHONE,
    )
