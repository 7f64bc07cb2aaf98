"""Query performance report pages: index report and suggestions, database health, snapshots."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from dashboard.accounts.roles import forbidden, has_role, role_required
from dashboard.audit.services import record
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.services import enqueue
from dashboard.queries.health import database_health
from dashboard.queries.indexes import index_report
from dashboard.queries.snapshots import recent_snapshots
from dashboard.queries.statement_texts import top_statements
from dashboard.queries.suggestions import suggestions_for_statements
from dashboard.queries.view_helpers import part_error
from dashboard.target import TargetError


@role_required("viewer")
def indexes(request: HtmxHttpRequest) -> HttpResponse:
    try:
        report = index_report()
        status, top = top_statements()
    except TargetError as exc:
        return part_error(request, "queries/indexes.html#report", exc)
    if status.ready:
        report.suggestions = suggestions_for_statements(
            [(t.queryid, t.total_ms, t.query) for t in top],
            report.catalog,
            report.table_rows,
            report.schema,
        )
    else:
        report.suggestion_notice = status.sentence
    context = {"tab": "indexes", "report": report, "top_count": len(top)}
    template = "queries/indexes.html#report" if request.htmx else "queries/indexes.html"
    return render(request, template, context)


@role_required("viewer")
def health(request: HtmxHttpRequest) -> HttpResponse:
    try:
        show_console = request.GET.get("console") == "1"
        context = {"tab": "health", "health": database_health(show_console=show_console)}
    except TargetError as exc:
        return part_error(request, "queries/health.html#numbers", exc)
    template = "queries/health.html#numbers" if request.htmx else "queries/health.html"
    return render(request, template, context)


@role_required("viewer")
@require_http_methods(["GET", "POST"])
def snapshots(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not has_role(request.user, "engineer"):
            return forbidden(request, "engineer")
        from dashboard.queries.tasks import snapshot_now

        run = enqueue(snapshot_now, kind="queries_snapshot", user=request.user)
        record(request, "queries.snapshot_now", detail={"job": run.pk})
        if request.htmx:
            return render(request, "jobs/run.html#progress", {"run": run})
        return redirect("job_detail", run_id=run.pk)
    context = {
        "tab": "snapshots",
        "snapshots": recent_snapshots(50),
        "can_capture": has_role(request.user, "engineer"),
    }
    template = "queries/snapshots.html#list" if request.htmx else "queries/snapshots.html"
    return render(request, template, context)
