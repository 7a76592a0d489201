"""The q cluster's broker with Redis: one client per process, not one per task."""

from django.conf import settings
from django_q.brokers import get_broker

from campaigns.services import schedule_event_evaluation
from regal.brokers import SharedClientRedis
from tests.conftest import require
from tests.taskqueue import purge_queued_tasks, take_queued_tasks


def test_brokers_of_one_process_share_one_redis_client():
    require(bool(settings.REDIS_URL), "set REDIS_URL to test the Redis broker")

    first, second = get_broker(), get_broker()

    assert isinstance(first, SharedClientRedis)
    assert first.connection is second.connection


def test_task_enqueued_on_the_shared_client_reaches_the_queue():
    require(bool(settings.REDIS_URL), "set REDIS_URL to test the Redis broker")
    purge_queued_tasks()

    schedule_event_evaluation([7, 8])
    schedule_event_evaluation([9])

    assert take_queued_tasks() == [
        ("campaigns.tasks.evaluate_events_task", ([7, 8],)),
        ("campaigns.tasks.evaluate_events_task", ([9],)),
    ]
