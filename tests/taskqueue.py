"""Read what was enqueued for the q cluster, with the ORM broker or Redis alike.

No cluster runs in these tests, so an enqueued task stays in the broker's
queue (an OrmQ row, or an entry in this instance's Redis list) until a test
takes it out.
"""

from django_q.brokers import get_broker
from django_q.signing import SignedPackage


def purge_queued_tasks() -> None:
    """Drop whatever an earlier test or run left in the queue."""
    get_broker().purge_queue()


def take_queued_tasks() -> list[tuple[str, tuple]]:
    """Take every queued task out of the queue; return (func, args) of each."""
    broker = get_broker()
    tasks = []
    while broker.queue_size():
        for _, payload in broker.dequeue() or []:
            task = SignedPackage.loads(payload)
            tasks.append((task["func"], task["args"]))
    return tasks
