"""HTTP for the Migrations section: thin views over dashboard.history.services."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import has_role, role_required
from dashboard.audit.services import record
from dashboard.history.apply import ApplyRefused, apply_enabled, start_apply
from dashboard.history.models import RevisionSql, TrialRun
from dashboard.history.offline import regenerate
from dashboard.history.project import ProjectError, load_project, project_settings
from dashboard.history.services import (
    drift_summary,
    migrations_overview,
    pending_overview,
    revision_page,
    revision_sql_part,
    settings_summary,
    trial_context,
)
from dashboard.history.trial import start_trial
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.abandoned import checked_run
from dashboard.jobs.kinds import job_kind_role
from dashboard.params import integer, optional

# A trial's page shows its output, which may quote rows of the copy of production it ran on:
# the role is the one its job kind declares (engineer).
TRIAL_ROLE = job_kind_role("migration_trial")


def _checked(request: HtmxHttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


@role_required("viewer")
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    part = request.GET.get("part", "") if request.htmx else ""
    page = optional(request.GET, "page", partial(integer, minimum=1, maximum=1_000_000), 1)
    if part == "history":
        overview = migrations_overview(request.user, page)
        return render(request, "history/index.html#history", {"overview": overview})
    if part == "drift":
        return render(request, "history/index.html#drift", {"drift": drift_summary()})
    if part == "pending":
        return render(
            request, "history/index.html#pending", {"overview": pending_overview(request.user)}
        )
    context = {
        "overview": migrations_overview(request.user, page),
        "may_trial": has_role(request.user, TRIAL_ROLE),
        "may_apply": has_role(request.user, "admin") and apply_enabled(),
    }
    return render(request, "history/index.html", context)


@role_required("viewer")
@require_GET
def revision(request: HtmxHttpRequest, revision_id: str) -> HttpResponse:
    try:
        if request.htmx:
            page = revision_sql_part(revision_id)
            return render(request, "history/revision.html#sql", {"page": page})
        page = revision_page(revision_id, request.user)
    except ProjectError as exc:
        context = {"project_error": exc, "settings_summary": settings_summary()}
        return render(request, "history/revision.html", context)
    context = {"page": page, "may_trial": has_role(request.user, TRIAL_ROLE)}
    return render(request, "history/revision.html", context)


@require_POST
@role_required("engineer")
def revision_regenerate(request: HtmxHttpRequest, revision_id: str) -> HttpResponse:
    try:
        project = load_project()
    except ProjectError as exc:
        messages.error(request, exc.sentence)
        return redirect("history:index")
    page = revision_sql_part(revision_id)
    row = get_object_or_404(RevisionSql, pk=page.sql.pk, project=project.key)
    if row.finished:
        regenerate(row, request.user)
        record(request, "migrations.sql_regenerate", detail={"revision": revision_id})
    if request.htmx:
        return render(
            request, "history/revision.html#sql", {"page": revision_sql_part(revision_id)}
        )
    return redirect("history:revision", revision_id=revision_id)


@role_required("viewer")
@require_GET
def trials(request: HtmxHttpRequest) -> HttpResponse:
    project = project_settings()
    runs = TrialRun.objects.filter(project=project.key).select_related("job", "created_by")[:100]
    context = {"trials": runs, "may_trial": has_role(request.user, TRIAL_ROLE)}
    return render(request, "history/trials.html", context)


@require_POST
@role_required(TRIAL_ROLE)
def trial_start(request: HtmxHttpRequest) -> HttpResponse:
    options = {
        "round_trip": _checked(request, "round_trip"),
        "keep_branch": _checked(request, "keep_branch"),
        "schema_only": _checked(request, "schema_only"),
    }
    try:
        trial = start_trial(request.user, **options)
    except ProjectError as exc:
        messages.error(request, exc.sentence)
        return redirect("history:index")
    record(request, "migrations.trial_run", detail={"trial": trial.pk, **options})
    if request.htmx:
        return render(request, "history/trial.html#progress", trial_context(trial))
    return redirect("history:trial", trial_id=trial.pk)


@role_required(TRIAL_ROLE)
@require_GET
def trial(request: HtmxHttpRequest, trial_id: int) -> HttpResponse:
    run = get_object_or_404(TrialRun.objects.select_related("job", "created_by"), pk=trial_id)
    if run.job is not None:
        checked_run(run.job)  # a trial whose worker stopped ends here, and the polling with it
    template = "history/trial.html#progress" if request.htmx else "history/trial.html"
    return render(request, template, trial_context(run))


@require_POST
@role_required("admin")
def apply(request: HtmxHttpRequest) -> HttpResponse:
    typed = request.POST.get("confirm_revision", "")
    try:
        run = start_apply(request.user, typed)
    except (ApplyRefused, ProjectError) as exc:
        if request.htmx:
            return render(
                request, "history/index.html#apply_error", {"apply_error": exc.sentence}, status=400
            )
        messages.error(request, exc.sentence)
        return redirect("history:index")
    record(
        request,
        "migrations.apply",
        detail={"destination": run.params.get("destination"), "job": run.pk},
    )
    if request.htmx:
        return render(request, "jobs/run.html#progress", {"run": run})
    return redirect("job_detail", run_id=run.pk)
