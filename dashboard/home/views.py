"""The overview page, the health endpoint and the example background job."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import has_role, public, role_required
from dashboard.home.services import health, target_overview
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue
from dashboard.target import TargetError


@role_required("viewer")
def home(request: HtmxHttpRequest) -> HttpResponse:
    context: dict[str, object] = {
        "recent_jobs": JobRun.objects.filter(kind="health_check")[:5],
        "is_admin": has_role(request.user, "admin"),  # the setup checklist is loaded for admins
    }
    try:
        context["overview"] = target_overview()
    except TargetError as exc:
        context["overview_error"] = exc.sentence
    return render(request, "home/index.html", context)


@public
@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    report = health()
    return JsonResponse(report, status=200 if report["ok"] else 503)


@role_required("viewer")
@require_POST
def health_check_start(request: HtmxHttpRequest) -> HttpResponse:
    from dashboard.jobs.tasks import health_check

    run = enqueue(health_check, kind="health_check", user=request.user)
    if request.htmx:
        return render(request, "jobs/run.html#progress", {"run": run})
    return redirect("job_detail", run_id=run.pk)
