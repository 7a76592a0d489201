"""The due-step ticker's lease: one chain of ticks at a time, taken over when dead."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Message
from campaigns.models import CampaignEnrollment, CampaignTicker
from campaigns.services import (
    TICKER_LEASE,
    claim_ticker,
    ensure_ticking,
    evaluate_events,
    tick,
)
from tests.factories import make_campaign, make_contact, make_event
from tests.taskqueue import purge_queued_tasks, take_queued_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def task_queue():
    purge_queued_tasks()
    yield
    purge_queued_tasks()


def expire_lease() -> None:
    CampaignTicker.objects.update(lease_until=timezone.now() - timedelta(seconds=1))


def test_claim_ticker_gives_free_lease_to_the_chain():
    before = timezone.now()

    claimed = claim_ticker("chain-a")

    ticker = CampaignTicker.objects.get()
    assert claimed is True
    assert ticker.chain_id == "chain-a"
    assert before + TICKER_LEASE <= ticker.lease_until <= timezone.now() + TICKER_LEASE


def test_claim_ticker_refuses_another_chain_while_lease_is_valid():
    claim_ticker("chain-a")
    held_until = CampaignTicker.objects.get().lease_until

    claimed = claim_ticker("chain-b")

    ticker = CampaignTicker.objects.get()
    assert claimed is False
    assert (ticker.chain_id, ticker.lease_until) == ("chain-a", held_until)


def test_claim_ticker_renews_the_lease_of_its_holder():
    claim_ticker("chain-a")
    held_until = CampaignTicker.objects.get().lease_until

    claimed = claim_ticker("chain-a")

    ticker = CampaignTicker.objects.get()
    assert claimed is True
    assert ticker.chain_id == "chain-a"
    assert ticker.lease_until >= held_until


def test_claim_ticker_lets_another_chain_take_an_expired_lease():
    claim_ticker("chain-a")
    expire_lease()

    claimed = claim_ticker("chain-b")

    assert claimed is True
    assert CampaignTicker.objects.get().chain_id == "chain-b"


def test_claim_ticker_refuses_the_old_chain_after_a_takeover():
    claim_ticker("chain-a")
    expire_lease()
    claim_ticker("chain-b")

    claimed = claim_ticker("chain-a")

    assert claimed is False
    assert CampaignTicker.objects.get().chain_id == "chain-b"


def test_tick_of_a_chain_without_the_lease_runs_no_steps(task_queue):
    make_campaign(body="Finish it")
    contact = make_contact(sms_consent=True)
    evaluate_events([make_event(contact).pk])
    CampaignEnrollment.objects.update(next_run_at=timezone.now())
    claim_ticker("chain-a")

    tick(chain_id="chain-b")

    assert not Message.objects.exists()
    assert CampaignTicker.objects.get().chain_id == "chain-a"
    assert take_queued_tasks() == []


def test_ensure_ticking_starts_a_chain_when_no_lease_is_held(task_queue):
    ensure_ticking()

    assert take_queued_tasks() == [("campaigns.tasks.tick_task", (None,))]


def test_ensure_ticking_starts_no_chain_while_a_lease_is_held(task_queue):
    claim_ticker("chain-a")

    ensure_ticking()

    assert take_queued_tasks() == []


def test_ensure_ticking_starts_a_chain_when_the_lease_has_expired(task_queue):
    claim_ticker("chain-a")
    expire_lease()

    ensure_ticking()

    assert take_queued_tasks() == [("campaigns.tasks.tick_task", (None,))]
