import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# The q cluster finishes the task in hand before it stops; ticks are a few
# seconds long, so this is plenty.
STOP_TIMEOUT_SECONDS = 20


class Command(BaseCommand):
    help = (
        "Run the web server (daphne: HTTP and websockets) and the q cluster "
        "together until Ctrl-C, which stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {
            "daphne": [
                sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
                "regal.asgi:application",
            ],
            "qcluster": [sys.executable, manage, "qcluster"],
        }  # fmt: skip
        # Each child leads its own process group, so that stopping reaches the
        # q cluster's workers too, and Ctrl-C reaches the children only through
        # us, once.
        children = {
            name: subprocess.Popen(
                command, env=os.environ.copy(), start_new_session=True
            )
            for name, command in commands.items()
        }
        self.stdout.write(
            f"Regal is running at http://{host}:{port}/ "
            "(desk /desk/, admin /admin/). Ctrl-C stops it."
        )
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(c.poll() is None for c in children.values()):
            time.sleep(0.2)
        exited = [name for name, child in children.items() if child.poll() is not None]
        stop_children(children.values())
        if exited and not stopping:
            self.stderr.write(f"{', '.join(exited)} exited; stopped the rest")
            sys.exit(1)


def stop_children(children) -> None:
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
