"""What the console asked of the branch provider: creates, deletes and resets, with their job.

Only names and ids are kept here, never connection strings, passwords or the Neon API key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dashboard.jobs.models import JobRun


class BranchRequest(models.Model):
    """One create, delete or reset of a branch started from the console."""

    class Action(models.TextChoices):
        CREATE = "create"
        DELETE = "delete"
        RESET = "reset"

    action = models.CharField(max_length=16, choices=Action.choices)
    provider = models.CharField(max_length=16)
    branch_name = models.CharField(max_length=256)
    # Empty until the provider has answered a create.
    branch_id = models.CharField(max_length=128, blank=True, db_index=True)
    parent_id = models.CharField(max_length=128, blank=True)
    # schema_only, point_in_time, expires_at (ISO text): what was asked, nothing secret.
    options = models.JSONField(default=dict, blank=True)
    job_run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the history still names the operator if the account goes.
    requested_by_name = models.CharField(max_length=150, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.branch_name} ({self.provider})"

    @property
    def status(self) -> str:
        """Return the job's status, or 'queued' before the job exists."""
        return self.job_run.status if self.job_run else JobRun.Status.QUEUED
