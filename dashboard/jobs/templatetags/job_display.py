"""`{% for label, value in run|job_result %}`: a job's result as people read it."""

from __future__ import annotations

from django import template

from dashboard.jobs.display import result_lines
from dashboard.jobs.models import JobRun

register = template.Library()


@register.filter
def job_result(run: JobRun) -> list[tuple[str, str]]:
    """Return the run's result as (label, formatted value) pairs."""
    return result_lines(run.result or {})
