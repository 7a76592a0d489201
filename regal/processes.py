"""Regal's two processes, and stopping them: shared by `serve` and the tests."""

import ctypes
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


def start_process(
    command: list[str], *, die_with_parent: bool = False, **popen_kwargs
) -> subprocess.Popen:
    """Start one of Regal's processes as the leader of its own process group.

    A group of its own lets stopping reach the q cluster's workers too.
    `die_with_parent` is for `serve`, which has no threads: preexec_fn is not
    safe in a process that has some, such as a test run.
    """
    preexec_fn = prepare_child if die_with_parent else None
    return subprocess.Popen(
        command, start_new_session=True, preexec_fn=preexec_fn, **popen_kwargs
    )


def prepare_child() -> None:
    """In the child: hear signals even if we were started ignoring them (a
    `make run &` in a script), and die with us if we are killed outright."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# prctl(2): ask the kernel to signal this process when its parent dies.
PR_SET_PDEATHSIG = 1


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
