"""Serve the console with gunicorn and its background worker side by side (for `make demo`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from core.netports import choose_port


class Command(BaseCommand):
    help = "Run gunicorn and the procrastinate worker until interrupted; pick a free port if busy."

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
        env = {**os.environ, "PORT": str(port), "HOST": host}
        python = sys.executable
        processes = [
            subprocess.Popen(
                [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"], env=env
            ),
            subprocess.Popen(
                [python, "manage.py", "procrastinate", "worker", "--concurrency", "2"], env=env
            ),
        ]
        self.stdout.write(f"Schemadesk is at http://{host}:{port}/  (Ctrl-C stops it)")
        self.stdout.flush()  # said now, also when the output is a pipe or a log file

        def stop(*_):
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        finally:
            stop()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        failed = [p for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
        if failed:
            sys.exit(1)
