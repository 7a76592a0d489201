import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the web server (daphne: HTTP and websockets) and the q cluster "
        "together until Ctrl-C, which stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "regal.asgi:application",
                ],
                env=os.environ.copy(),
            ),
            subprocess.Popen([*manage, "qcluster"], env=os.environ.copy()),  # noqa: S603
        ]
        self.stdout.write(
            f"Regal is running at http://{host}:{port}/ "
            f"(desk /desk/, admin /admin/). Ctrl-C stops it."
        )
        stop = False

        def request_stop(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [
            child.args[2] for child in children if child.returncode not in (0, -2)
        ]
        if failed and not stop:
            self.stderr.write(f"stopped because a process exited: {failed}")
            sys.exit(1)
