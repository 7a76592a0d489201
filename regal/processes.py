"""Regal's two processes, and stopping them: shared by `serve` and the tests."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

# The q cluster finishes the task in hand before it stops; ticks are a few
# seconds long, so this is plenty.
STOP_TIMEOUT_SECONDS = 20


def process_commands(*, host: str, port: int) -> dict[str, list[str]]:
    """The command lines of the web server (HTTP and websockets) and the q cluster."""
    manage = str(settings.BASE_DIR / "manage.py")
    return {
        "daphne": [
            sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
            "regal.asgi:application",
        ],
        "qcluster": [sys.executable, manage, "qcluster"],
    }  # fmt: skip


def start_process(command: list[str], **popen_kwargs) -> subprocess.Popen:
    # Each child leads its own process group, so that stopping reaches the q
    # cluster's workers too.
    return subprocess.Popen(command, start_new_session=True, **popen_kwargs)


def stop_processes(children) -> None:
    """Ask each process group to stop, then kill what is left after a timeout."""
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
