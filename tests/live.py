"""Regal as real processes: daphne and the q cluster, against the test database.

The end-to-end and browser tests drive these over real sockets. The processes
share the test process's database (its test database), Redis (when REDIS_URL
is set) and SECRET_KEY, so the tests can read what they stored and sign in.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from regal.processes import process_commands, start_process, stop_processes

STARTUP_TIMEOUT_SECONDS = 30


@dataclass
class LiveRegal:
    url: str
    env: dict
    log_dir: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test process is using right now."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{db['NAME']}"


def flush_redis_keys() -> None:
    """Drop what an earlier, interrupted run left in Redis under our prefix."""
    if not settings.REDIS_URL:
        return
    import redis

    client = redis.from_url(settings.REDIS_URL)
    for pattern in (
        f"django_q:{settings.REGAL_INSTANCE}:*",
        f"{settings.REGAL_INSTANCE}:*",
    ):
        for key in client.scan_iter(pattern):
            client.delete(key)


@contextmanager
def running_regal(tmp_path: Path, *, env: dict | None = None) -> Iterator[LiveRegal]:
    """Start daphne and the q cluster; stop both, and their workers, on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    var_dir = tmp_path / "var"
    var_dir.mkdir(exist_ok=True)
    process_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "PUBLIC_URL": url,
        "REGAL_INSTANCE": settings.REGAL_INSTANCE,
        "REGAL_VAR_DIR": str(var_dir),
        "REGAL_TICK_SECONDS": "0.2",
        "LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    flush_redis_keys()
    manage = str(settings.BASE_DIR / "manage.py")
    if not settings.REDIS_URL:
        # The embedded channel layer keeps its messages in var/channels.sqlite3.
        subprocess.run(
            [sys.executable, manage, "migrate", "--database", "channels", "-v0"],
            env=process_env,
            check=True,
        )
    commands = process_commands(host="127.0.0.1", port=port)
    children = []
    try:
        for name, command in commands.items():
            log = (tmp_path / f"{name}.log").open("w")
            children.append(
                start_process(
                    command,
                    env=process_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=settings.BASE_DIR,
                )
            )
        live = LiveRegal(url=url, env=process_env, log_dir=tmp_path)
        wait_until_serving(url, children, live)
        yield live
    finally:
        stop_processes(children)


def wait_until_serving(url: str, children: list, live: LiveRegal) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError(f"Regal exited while starting:\n{live.logs()}")
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(
        f"Regal did not answer within {STARTUP_TIMEOUT_SECONDS}s:\n{live.logs()}"
    )


def wait_for(condition, *, timeout: float, interval: float = 0.2, message: str = ""):
    """Poll `condition` until it returns something truthy; return that.

    Bounded: fails the test after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s")
