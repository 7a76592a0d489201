import os
import signal
import sys
import time

from django.core.management.base import BaseCommand

from regal.processes import process_commands, start_process, stop_processes


class Command(BaseCommand):
    help = (
        "Run the web server (daphne: HTTP and websockets) and the q cluster "
        "together until Ctrl-C, which stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        children = {
            name: start_process(command, die_with_parent=True, env=os.environ.copy())
            for name, command in process_commands(host=host, port=port).items()
        }
        self.stdout.write(
            f"Regal is running at http://{host}:{port}/ "
            "(desk /desk/, admin /admin/). Ctrl-C stops it."
        )
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        # The children lead their own process groups: Ctrl-C reaches them
        # only through us, once.
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(c.poll() is None for c in children.values()):
            time.sleep(0.2)
        exited = [name for name, child in children.items() if child.poll() is not None]
        stop_processes(children.values())
        if exited and not stopping:
            self.stderr.write(f"{', '.join(exited)} exited; stopped the rest")
            sys.exit(1)
