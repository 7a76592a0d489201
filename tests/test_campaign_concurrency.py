"""Two workers running the same due steps at the same moment.

Each worker is a thread with its own database connection, so their
transactions and row locks are PostgreSQL's, as with two q cluster workers.
SQLite takes one write lock for the whole file and has no row locks to test.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agents.models import Message
from campaigns.models import CampaignEnrollment, CampaignEnrollmentActivity
from campaigns.services import evaluate_events, run_due_steps
from tests.factories import make_campaign, make_contact, make_event
from tests.taskqueue import purge_queued_tasks

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks and concurrent transactions need PostgreSQL "
        "(set DATABASE_URL); SQLite serialises every writer",
    ),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

WORKERS = 2
ENROLLMENTS = 20


@pytest.fixture
def empty_task_queue():
    """Committed sends are enqueued for the q cluster: leave none behind."""
    purge_queued_tasks()
    yield
    purge_queued_tasks()


def run_in_workers(target, count: int) -> list[BaseException]:
    """Run `target` in `count` threads released together; return their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_two_workers_running_due_steps_at_once_queue_each_sms_once(empty_task_queue):
    make_campaign(body="Finish it")
    for _ in range(ENROLLMENTS):
        contact = make_contact(sms_consent=True)
        evaluate_events([make_event(contact).pk])
    CampaignEnrollment.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))

    errors = run_in_workers(run_due_steps, WORKERS)

    assert errors == []
    queued = CampaignEnrollmentActivity.objects.filter(action="sms_queued")
    assert sorted(queued.values_list("enrollment_id", flat=True)) == sorted(
        CampaignEnrollment.objects.values_list("pk", flat=True)
    )
    assert Message.objects.count() == ENROLLMENTS
    assert (
        Message.objects.values("conversation__contact").distinct().count()
        == ENROLLMENTS
    )
