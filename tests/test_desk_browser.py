"""The desk in headless Chromium, against Regal running as real processes.

Messages come in as signed Twilio webhooks to daphne, or are sent by the q
cluster, and each test checks that the open page shows them without a reload.
"""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections

from agents import services
from agents.models import CallTask
from tests.conftest import require
from tests.factories import make_contact, next_phone
from tests.twilio_webhooks import inbound_sms_params, post_webhook

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # The `chromium` fixture says what to install.
    expect = sync_playwright = None

# The channel layer's tables too: in the embedded mode, a message queued from
# this process is broadcast through it.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a loaded CI machine; the embedded layer polls every 0.1s and
# the q cluster every 0.2s, so a pass takes well under a second.
LIVE_TIMEOUT_MS = 10_000
PASSWORD = "desk-test-password"


def off_the_browser_thread(function, /, *args, **kwargs):
    """Run Django code in a thread of its own.

    Playwright's sync API keeps an asyncio loop running in the test's thread;
    there Django refuses ORM calls and async_to_sync refuses to broadcast.
    """

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def agent(live_regal):
    return get_user_model().objects.create_user("agent", password=PASSWORD)


@pytest.fixture
def chromium() -> Path:
    require(
        sync_playwright is not None,
        "Playwright is not installed: pip install -e '.[test]'",
    )
    require(CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium")
    return CHROMIUM


@pytest.fixture
def desk(chromium, live_regal, agent):
    """A page signed in through the login form, on the conversation list."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        page.goto(f"{live_regal.url}/desk/")
        page.get_by_label("User name").fill(agent.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_regal.url}/desk/")
        yield page
        browser.close()


def wait_until_live(page) -> None:
    """Wait for the websocket, and mark the page to tell a reload later."""
    expect(page.locator("#live-status")).to_have_text("Live")
    page.evaluate("() => { window.deskNotReloaded = true; }")


def was_not_reloaded(page) -> bool:
    return page.evaluate("() => window.deskNotReloaded === true")


def text_in(live_regal, *, phone: str, body: str) -> None:
    params = inbound_sms_params(from_number=phone, body=body)
    response = post_webhook(f"{live_regal.url}/twilio/sms", params)
    assert response.status == 200, response.body


def test_desk_shows_a_new_conversation_live(desk, live_regal):
    wait_until_live(desk)
    phone = next_phone()

    text_in(live_regal, phone=phone, body="Is my order on its way?")

    first = desk.locator("#conversations > li").first
    expect(first.locator(".name")).to_have_text(phone)
    expect(first.locator(".preview")).to_have_text("Is my order on its way?")
    expect(first).to_have_class("unread")
    expect(desk.locator("#no-conversations")).to_have_count(0)
    assert was_not_reloaded(desk)


def test_desk_moves_a_conversation_with_a_new_message_to_the_top(desk, live_regal):
    older, newer = next_phone(), next_phone()
    text_in(live_regal, phone=older, body="First question")
    text_in(live_regal, phone=newer, body="Second question")
    desk.reload()
    wait_until_live(desk)

    text_in(live_regal, phone=older, body="Any news?")

    names = desk.locator("#conversations > li .name")
    expect(names).to_have_text([older, newer])
    expect(desk.locator("#conversations > li .preview").first).to_have_text("Any news?")
    assert was_not_reloaded(desk)


def test_thread_shows_a_new_inbound_message_live(desk, live_regal):
    phone = next_phone()
    text_in(live_regal, phone=phone, body="Hello, anyone there?")
    desk.reload()
    desk.get_by_role("link", name=re.compile(re.escape(phone))).click()
    wait_until_live(desk)

    text_in(live_regal, phone=phone, body="I need help with a return")

    bodies = desk.locator("#thread .message.inbound .body")
    expect(bodies).to_have_text(["Hello, anyone there?", "I need help with a return"])
    assert was_not_reloaded(desk)


def test_thread_shows_the_status_a_worker_gives_an_outbound_sms_live(desk, live_regal):
    contact = off_the_browser_thread(make_contact, sms_consent=True)
    conversation = off_the_browser_thread(services.get_or_create_conversation, contact)
    desk.goto(f"{live_regal.url}/desk/conversations/{conversation.pk}/")
    wait_until_live(desk)

    # Stored by this process; only the q cluster's worker sends it, and only
    # the worker's broadcast says "Sent".
    off_the_browser_thread(
        services.queue_sms,
        contact,
        body="Your parcel ships today",
        idempotency_key="k1",
    )

    outbound = desk.locator("#thread .message.outbound")
    expect(outbound.locator(".body")).to_have_text(["Your parcel ships today"])
    expect(outbound.locator(".status")).to_have_text(["Sent"])
    assert was_not_reloaded(desk)


def test_thread_reply_is_sent_and_its_status_shown_live(desk, live_regal):
    contact = off_the_browser_thread(make_contact, sms_consent=True)
    conversation = off_the_browser_thread(services.get_or_create_conversation, contact)
    desk.goto(f"{live_regal.url}/desk/conversations/{conversation.pk}/")
    wait_until_live(desk)

    desk.get_by_label("Reply by SMS").fill("We can call you at 3pm")
    desk.get_by_role("button", name="Send").click()

    outbound = desk.locator("#thread .message.outbound")
    expect(outbound.locator(".body")).to_have_text(["We can call you at 3pm"])
    expect(outbound.locator(".status")).to_have_text(["Sent"])
    expect(desk.get_by_label("Reply by SMS")).to_have_value("")
    assert was_not_reloaded(desk)


def open_call_task_in_regal(live_regal, *, priority: str, notes: str) -> None:
    """Open a task in a process of Regal's own, as a campaign's worker would.

    A broadcast from this test process would not reach daphne in the embedded
    mode: each side has its own channel layer file there.
    """
    contact = off_the_browser_thread(make_contact)
    code = (
        "from agents import services; from contacts.models import Contact; "
        f"services.open_call_task(Contact.objects.get(pk={contact.pk}), "
        f"idempotency_key='browser-test:{contact.pk}', opener_key='campaign:12', "
        f"opened_by='campaign 12', priority={priority!r}, notes={notes!r})"
    )
    subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c", code],
        env=live_regal.env,
        check=True,
        timeout=60,
    )


def test_task_list_shows_a_new_task_live_in_priority_order(desk, live_regal):
    open_call_task_in_regal(live_regal, priority="normal", notes="Ask about the car")
    desk.goto(f"{live_regal.url}/desk/tasks/")
    wait_until_live(desk)

    open_call_task_in_regal(live_regal, priority="urgent", notes="Loan expires")

    notes = desk.locator("#tasks > li .notes")
    expect(notes).to_have_text(["Loan expires", "Ask about the car"])
    assert was_not_reloaded(desk)


def test_task_list_completes_a_task_that_appeared_live(desk, live_regal):
    desk.goto(f"{live_regal.url}/desk/tasks/")
    wait_until_live(desk)
    open_call_task_in_regal(live_regal, priority="high", notes="Call back")
    task = desk.locator("#tasks > li.task")
    expect(task.locator(".notes")).to_have_text("Call back")

    task.get_by_label("Outcome").select_option("voicemail")
    task.get_by_role("button", name="Done").click()

    expect(desk).to_have_url(f"{live_regal.url}/desk/tasks/")
    expect(desk.locator("#tasks > li.task")).to_have_count(0)
    expect(desk.locator("#no-tasks")).to_have_count(1)
    closed = off_the_browser_thread(
        lambda: list(CallTask.objects.values_list("status", "disposition"))
    )
    assert closed == [("completed", "voicemail")]
