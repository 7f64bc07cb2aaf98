"""Background job runs: progress and outcome kept in the `django` schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    # The procrastinate task that runs it (a retry defers the same task again).
    task_name = models.CharField(max_length=128, blank=True)
    # A list of {"at": iso time, "message": str} lines, newest last.
    progress = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written every JOB_HEARTBEAT_INTERVAL_SECONDS while the job runs (database time): a
    # running job without one for JOB_HEARTBEAT_TIMEOUT_SECONDS lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set on a run started again because its worker stopped while running this one.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def note(self, message: str) -> None:
        """Append a progress line and save it at once, so pollers see it."""
        self.progress = [*self.progress, {"at": timezone.now().isoformat(), "message": message}]
        self.save(update_fields=["progress"])

    @property
    def retried_as(self) -> JobRun | None:
        """Return the run that took over after this one's worker stopped, if any."""
        return self.retries.order_by("pk").first() if self.pk else None

    def start(self) -> None:
        self.status = self.Status.RUNNING
        self.started_at = self.heartbeat_at = timezone.now()
        self.save(update_fields=["status", "started_at", "heartbeat_at"])

    def _end(self, **fields: object) -> None:
        """Write the outcome unless the run already ended (it may have been given up on)."""
        fields["finished_at"] = timezone.now()
        unfinished = (self.Status.QUEUED, self.Status.RUNNING)
        ended = JobRun.objects.filter(pk=self.pk, status__in=unfinished).update(**fields)
        if ended:
            for name, value in fields.items():
                setattr(self, name, value)
        else:
            self.refresh_from_db()

    def succeed(self, result: dict | None = None) -> None:
        self._end(status=self.Status.SUCCEEDED, result=result or {})

    def fail(self, error: str) -> None:
        self._end(status=self.Status.FAILED, error=error)
