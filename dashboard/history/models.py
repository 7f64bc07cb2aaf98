"""What the Migrations section keeps in the `django` schema: generated SQL and trial runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dashboard.history.trial_verdict import (
    FAILED,
    NOTHING_PENDING,
    OUTCOME_BADGES,
    OUTCOME_LABELS,
    SUCCEEDED,
)
from dashboard.jobs.models import JobRun


class RevisionSql(models.Model):
    """Offline SQL of one revision and its review, cached per version of the script file."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    project = models.CharField(max_length=32)
    revision = models.CharField(max_length=255)
    # sha256 of the revision file and env.py: an edited script gets its SQL generated again.
    script_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    upgrade_sql = models.TextField(blank=True)
    downgrade_sql = models.TextField(blank=True)
    upgrade_error = models.TextField(blank=True)
    downgrade_error = models.TextField(blank=True)
    # Review findings of the upgrade SQL: a list of dicts (see review.Finding).
    findings = models.JSONField(default=list, blank=True)
    review_note = models.TextField(blank=True)
    job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "revision", "script_hash"], name="history_revisionsql_key"
            )
        ]

    def __str__(self) -> str:
        return f"SQL of {self.revision} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status != self.Status.PENDING


class TrialRun(models.Model):
    """One trial of the pending migrations on a throw-away branch, with its results."""

    project = models.CharField(max_length=32)
    job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    round_trip = models.BooleanField(default=False)
    keep_branch = models.BooleanField(default=False)
    schema_only = models.BooleanField(default=False)
    provider = models.CharField(max_length=16, blank=True)
    branch_name = models.CharField(max_length=64, blank=True)
    branch_id = models.CharField(max_length=255, blank=True)
    branch_deleted = models.BooleanField(default=False)
    starting_heads = models.JSONField(default=list, blank=True)
    revisions = models.JSONField(default=list, blank=True)  # pending ids, in run order
    # One dict per step: revision, direction, ok, seconds, output (tail, no secrets).
    steps = models.JSONField(default=list, blank=True)
    succeeded = models.BooleanField(null=True)  # ran to the end without an error
    # What the result means (trial_verdict.py): succeeded, failed, nothing pending, round trip
    # differs, column order differs. Blank on runs recorded before it existed.
    outcome = models.CharField(max_length=32, blank=True)
    failed_revision = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    schema_diff = models.TextField(blank=True)
    round_trip_diff = models.TextField(blank=True)
    # What the round trip's diff means: {"differences": [sentence], "reordered": [sentence]}.
    round_trip_comparison = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"trial run #{self.pk}"

    @property
    def status(self) -> str:
        """Return the outcome once finished (see trial_verdict.py), else the job's status."""
        if self.outcome:
            return self.outcome
        if self.succeeded is True:  # recorded before outcomes: nothing run is not a success
            return SUCCEEDED if self.revisions else NOTHING_PENDING
        if self.succeeded is False:
            return FAILED
        return self.job.status if self.job else "queued"

    @property
    def status_label(self) -> str:
        return OUTCOME_LABELS.get(self.status, self.status)

    @property
    def badge(self) -> str:
        """Return the CSS class of the status badge."""
        return OUTCOME_BADGES.get(self.status, self.status)

    @property
    def finished(self) -> bool:
        return self.succeeded is not None or bool(self.job and self.job.finished)

    @property
    def total_seconds(self) -> float:
        return round(sum(float(step.get("seconds") or 0) for step in self.steps), 2)
