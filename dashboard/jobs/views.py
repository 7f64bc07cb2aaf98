"""A job run's progress, polled by htmx until it finishes."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.accounts.roles import forbidden, has_role, role_required
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.abandoned import checked_run
from dashboard.jobs.display import job_page
from dashboard.jobs.kinds import job_kind_role
from dashboard.jobs.models import JobRun


@role_required("viewer")  # at least; then the role the job's kind needs
def job_detail(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(JobRun.objects.select_related("retry_of"), pk=run_id)
    run = checked_run(run)  # a run whose worker stopped ends here, and the polling with it
    needed = job_kind_role(run.kind)
    if not has_role(request.user, needed):
        return forbidden(request, needed)
    if request.htmx:
        return render(request, "jobs/run.html#progress", {"run": run})
    return render(request, "jobs/run.html", {"run": run, "page": job_page(run)})
