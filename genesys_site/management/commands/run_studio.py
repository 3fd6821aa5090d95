"""`manage.py run_studio`: the web server and the workers of the embedded default, in one command.

The web server (daphne, HTTP + websockets) and the Celery workers run as child processes; Ctrl-C
or SIGTERM stops them all. In a real deployment run them separately (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

DEMO_LOGIN = ("demo", "demo-genesys")


class Command(BaseCommand):
    help = "Run the web server and the workers (embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-workers", action="store_true", help="serve the web app only")

    def worker_commands(self) -> list[list[str]]:
        from genesys_site.workers import embedded_worker_commands

        return embedded_worker_commands()

    def handle(self, *args, host: str, port: int, no_workers: bool, **options):
        python = sys.executable
        commands = [[python, "-m", "daphne", "-b", host, "-p", str(port), "genesys_site.asgi:application"]]
        if not no_workers:
            commands += self.worker_commands()
        # Each child leads its own process group, so stopping it stops its pool processes too.
        # The web server loads the knowledge engine's embedding model at start, not on the first search.
        web_env = {**os.environ, "GENESYS_WARM_KNOWLEDGE": "1"}
        children = [subprocess.Popen(cmd, start_new_session=True, env=web_env if i == 0 else None)
                    for i, cmd in enumerate(commands)]
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nGenesys Studio is running at {url}"))
        self.stdout.write(f"Log in as {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]} (researcher). Ctrl-C stops everything.")
        if not settings.GENESYS_DATA_DIR:
            self.stdout.write(self.style.WARNING("No GENESYS_DATA_DIR: designs can be checked, not verified."))

        def signal_group(child: subprocess.Popen, sig: int) -> None:
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                pass

        def stop(*_):
            # Running jobs are not waited for: their heartbeats stop, and the conductor re-queues them
            # at the next start (a verification resumes from its checkpoint).
            for child in children:
                signal_group(child, signal.SIGTERM)
            deadline = time.time() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    signal_group(child, signal.SIGKILL)
                    child.wait()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(f"process {child.args[:4]} exited with {child.returncode}; stopping")
                    stop()
            time.sleep(1)
