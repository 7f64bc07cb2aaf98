"""Run the job worker until SIGTERM or SIGINT, riding out database outages."""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.jobs.worker import run_worker_until_stopped


class Command(BaseCommand):
    help = (
        "Run the procrastinate worker; when the console's database goes away it waits and "
        "starts again instead of exiting. Stops on SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=settings.WORKER_CONCURRENCY)
        parser.add_argument(
            "--poll-interval", type=float, default=settings.WORKER_POLL_INTERVAL_SECONDS
        )

    def handle(self, *args, concurrency: int, poll_interval: float, **options) -> None:
        asyncio.run(self._serve(concurrency, poll_interval))

    async def _serve(self, concurrency: int, poll_interval: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_worker_until_stopped(
            stop,
            reconnect_max_seconds=settings.WORKER_RECONNECT_MAX_SECONDS,
            concurrency=concurrency,
            fetch_job_polling_interval=poll_interval,
        )
