"""The django-q2 broker Regal uses with Redis: one Redis client per process.

django-q2 builds a broker, and its Redis broker a new Redis client, for every
task it enqueues, so each stored batch opened (and dropped) a connection to
Redis before answering. This broker hands every instance the same client;
redis-py's connection pool is safe across threads and starts afresh in a
forked child.
"""

import functools

import redis
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf


@functools.cache
def shared_client(url: str) -> redis.Redis:
    return redis.from_url(url)


class SharedClientRedis(Redis):
    """django-q2's Redis broker, on this process's one client for REDIS_URL."""

    @staticmethod
    def get_connection(list_key: str | None = None) -> redis.Redis:
        return shared_client(Conf.REDIS)
