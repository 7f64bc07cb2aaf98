"""Query performance report pages: index report and suggestions, database health, snapshots."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from dashboard.accounts.roles import forbidden, has_role, role_required
from dashboard.audit.services import record
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.services import enqueue
from dashboard.queries import charts
from dashboard.queries.health import database_health
from dashboard.queries.health_history import health_trends
from dashboard.queries.indexes import index_report
from dashboard.queries.snapshots import recent_snapshots
from dashboard.queries.statement_texts import top_statements
from dashboard.queries.suggestions import suggestions_for_statements
from dashboard.queries.templatetags.queries_format import pct, thousands
from dashboard.queries.view_helpers import HISTORY_SPANS, part_error
from dashboard.target import TargetError, target_schema
from dashboard.users.services import overview as users_overview


def owner_columns() -> frozenset[tuple[str, str]]:
    """Return the columns leading rows to their owner (none when no users table is found)."""
    found = users_overview()
    return found.owners.owner_columns() if found.owners is not None else frozenset()


@role_required("viewer")
def indexes(request: HtmxHttpRequest) -> HttpResponse:
    try:
        report = index_report(
            min_rows=settings.QUERIES_SEQ_SCAN_MIN_ROWS, owner_columns=owner_columns()
        )
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


def trends_context(span_key: str) -> dict[str, Any]:
    """Return the Health page's trend charts of the samples taken in one span."""
    span_key = span_key if span_key in HISTORY_SPANS else "24h"
    trends = health_trends(HISTORY_SPANS[span_key])
    return {
        "trends": trends,
        "trends_span": span_key,
        "trends_spans": list(HISTORY_SPANS),
        "trends_schema": target_schema(),
        "chart_connections": charts.bar_chart(
            trends.connections, title="Connections", value_label=thousands
        ),
        "chart_cache_hit": charts.bar_chart(
            trends.cache_hit_percent,
            title="Cache hit ratio per interval",
            value_label=lambda value: pct(value, 2),
            css_class="bars calls",
        ),
        "chart_dead_rows": charts.bar_chart(
            trends.dead_rows, title="Dead rows", value_label=thousands, css_class="bars mean"
        ),
        "chart_xid_age": charts.bar_chart(
            trends.xid_age, title="Oldest transaction ID age", value_label=thousands
        ),
    }


@role_required("viewer")
def health(request: HtmxHttpRequest) -> HttpResponse:
    span_key = request.GET.get("span", "24h")
    if request.htmx and request.htmx.target == "trends":
        return render(request, "queries/health.html#trends", trends_context(span_key))
    try:
        show_console = request.GET.get("console") == "1"
        context = {"tab": "health", "health": database_health(show_console=show_console)}
    except TargetError as exc:
        return part_error(request, "queries/health.html#numbers", exc)
    if request.htmx:
        return render(request, "queries/health.html#numbers", context)
    context.update(trends_context(span_key))
    return render(request, "queries/health.html", context)


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
