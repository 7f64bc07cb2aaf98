"""A job run's progress, polled by htmx until it finishes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.jobs.models import JobRun


def job_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(JobRun, pk=run_id)
    template = "jobs/run.html#progress" if request.htmx else "jobs/run.html"
    return render(request, template, {"run": run})
