"""A running job's heartbeat: its JobRun's `heartbeat_at` is written while the job works."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from django.db import DatabaseError, close_old_connections, connections
from django.db.models.functions import Now

from core.engine import safe_error_text
from dashboard.jobs.models import JobRun

logger = logging.getLogger(__name__)


class Heartbeat:
    """Context manager: a thread writes `heartbeat_at = now()` every `interval_seconds`.

    Database time, so a web server comparing it with its own now() needs no clock in common
    with the worker. A beat that fails (the database is away) is logged and the next one tries
    again; the job itself is not disturbed.
    """

    def __init__(self, run_id: int, interval_seconds: float = 10.0) -> None:
        self.run_id = run_id
        self.interval_seconds = interval_seconds
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-job-{run_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_seconds + 5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval_seconds):
                close_old_connections()  # drop a connection the last failed beat broke
                try:
                    JobRun.objects.filter(pk=self.run_id, status=JobRun.Status.RUNNING).update(
                        heartbeat_at=Now()
                    )
                    self.beats += 1
                except DatabaseError as exc:
                    logger.warning(
                        "job #%s could not write its heartbeat: %s",
                        self.run_id,
                        safe_error_text(exc),
                    )
        finally:
            connections.close_all()  # this thread's own connections
