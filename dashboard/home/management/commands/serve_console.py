"""Serve the console with gunicorn and its background worker side by side (for `make demo`).

Both are supervised: a child that exits is started again with backoff, and the web server
never stops because the worker did (or the other way round). SIGTERM or Ctrl-C stops both.
"""

from __future__ import annotations

import os
import signal
import sys

from django.core.management.base import BaseCommand

from core.netports import choose_port
from dashboard.home.supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run gunicorn and the job worker until interrupted, restarting either if it exits; "
        "pick a free port if busy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--strict-port", action="store_true", help="fail instead of choosing another port"
        )

    def handle(self, *args, host: str, port: int, strict_port: bool, **options):
        try:
            port, note = choose_port(port, host, strict=strict_port)
        except OSError as exc:
            self.stderr.write(f"{exc} (set PORT)")
            sys.exit(2)
        if note:
            self.stdout.write(f"Note: {note}.")
        python = sys.executable
        gunicorn = [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"]
        supervisor = Supervisor(
            {"web server": gunicorn, "worker": [python, "manage.py", "run_worker"]},
            env={**os.environ, "PORT": str(port), "HOST": host},
        )
        stopping: list[int] = []

        def stop(signum, _frame):
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        supervisor.start_all()
        self.stdout.write(f"Schemadesk is at http://{host}:{port}/  (Ctrl-C stops it)")
        self.stdout.flush()  # said now, also when the output is a pipe or a log file
        supervisor.run(should_stop=lambda: bool(stopping))
