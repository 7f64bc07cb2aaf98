"""Query performance pages: slow statements, one statement (EXPLAIN, hypopg), indexes,
live activity (cancel/terminate), health, snapshots, statistics reset."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.accounts.roles import (
    ROLE_DESCRIPTIONS,
    ROLES,
    has_role,
    operator_role,
    role_required,
)
from dashboard.audit.services import record
from dashboard.jobs.services import enqueue
from dashboard.queries import charts
from dashboard.queries.actions import reset_statement_statistics, signal_backend
from dashboard.queries.activity import activity as read_activity
from dashboard.queries.activity import session_for
from dashboard.queries.explain import ExplainOutcome, ExplainRefused, explain_statement
from dashboard.queries.health import database_health
from dashboard.queries.indexes import index_report
from dashboard.queries.listing import SORTS, WINDOWS, StatementFilters
from dashboard.queries.snapshots import recent_snapshots, statement_history
from dashboard.queries.sqlformat import highlight_sql
from dashboard.queries.statements import (
    StatementDetail,
    statement_detail,
    statement_page,
    top_statements,
)
from dashboard.queries.suggestions import (
    HypotheticalComparison,
    compare_with_hypothetical_indexes,
    hypopg_available,
    suggestions_for,
    suggestions_for_statements,
)
from dashboard.queries.templatetags.queries_format import ms, thousands
from dashboard.target import TargetError, target_schema

HISTORY_SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "1h": timedelta(hours=1)}


def _roles_held(request: HttpRequest) -> set[str]:
    """Return every role the operator holds (one database read per request)."""
    held = operator_role(request.user)
    return set(ROLES[: ROLES.index(held) + 1]) if held else set()


def _part_error(request: HttpRequest, partial: str, exc: TargetError) -> HttpResponse:
    """Return the page part with the database's sentence (htmx), or let the page say it."""
    if not request.htmx:
        raise exc
    return render(request, partial, {"target_error": exc.sentence}, status=exc.status)


def _forbidden(request: HttpRequest, role: str) -> HttpResponse:
    return render(
        request,
        "errors/forbidden.html",
        {"role": role, "allows": ROLE_DESCRIPTIONS[role]},
        status=403,
    )


# ---- slow statements ------------------------------------------------------------------------


def statements(request: HttpRequest) -> HttpResponse:
    filters = StatementFilters.from_query(request.GET)
    try:
        status, page = statement_page(filters)
    except TargetError as exc:
        return _part_error(request, "queries/statements.html#results", exc)
    roles = _roles_held(request)
    context = {
        "tab": "statements",
        "filters": filters,
        "status": status,
        "page": page,
        "windows": WINDOWS,
        "sorts": SORTS,
        "sort_links": {key: filters.query_string(sort=key) for key in SORTS},
        "next_link": filters.query_string(page=filters.page + 1),
        "previous_link": filters.query_string(page=filters.page - 1),
        "statement_url": reverse("queries:statements"),
        "can_reset": "admin" in roles,
        "can_capture": "engineer" in roles,
    }
    template = "queries/statements.html#results" if request.htmx else "queries/statements.html"
    return render(request, template, context)


def _queryid(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise Http404(f"“{raw}” is not a query id (a whole number).") from None
    if not -(2**63) <= value < 2**63:
        raise Http404(f"“{raw}” is out of range for a query id.")
    return value


def _history_context(queryid: int, span_key: str) -> dict[str, Any]:
    span = HISTORY_SPANS.get(span_key, HISTORY_SPANS["24h"])
    points = statement_history(queryid, span)
    return {
        "history_span": span_key if span_key in HISTORY_SPANS else "24h",
        "history_spans": list(HISTORY_SPANS),
        "history_points": points,
        "history_calls": sum(point.calls for point in points),
        "chart_time": charts.bar_chart(
            [(p.at, p.total_ms) for p in points], title="Time per interval", value_label=ms
        ),
        "chart_calls": charts.bar_chart(
            [(p.at, float(p.calls)) for p in points],
            title="Calls per interval",
            value_label=thousands,
            css_class="bars calls",
        ),
        "chart_mean": charts.bar_chart(
            [(p.at, p.mean_ms) for p in points],
            title="Mean time per call",
            value_label=ms,
            css_class="bars mean",
        ),
    }


def _statement_context(request: HttpRequest, queryid: int) -> dict[str, Any]:
    status, detail = statement_detail(queryid)
    context: dict[str, Any] = {
        "tab": "statements",
        "status": status,
        "detail": detail,
        "sql_html": highlight_sql(detail.formatted.text),
        "can_analyze": has_role(request.user, "engineer"),
        "target_schema": target_schema(),
        "suggestions": [],
        "hypopg": None,
    }
    if detail.shape.explainable and detail.in_this_database:
        try:
            context["suggestions"] = suggestions_for(detail.query)
            context["hypopg"] = hypopg_available()
        except TargetError as exc:
            context["suggestions_error"] = exc.sentence
    context.update(_history_context(queryid, request.GET.get("history", "24h")))
    return context


def statement(request: HttpRequest, queryid: str) -> HttpResponse:
    number = _queryid(queryid)
    if request.htmx and request.htmx.target == "history":
        context = _history_context(number, request.GET.get("history", "24h"))
        context["detail"] = {"queryid": number}
        return render(request, "queries/statement.html#history", context)
    return render(request, "queries/statement.html", _statement_context(request, number))


def _parameter_values(request: HttpRequest, detail: StatementDetail) -> dict[int, str]:
    values = {}
    for slot in detail.parameters:
        slot.value = request.POST.get(slot.name, "")[:10_000]
        values[slot.number] = slot.value
    return values


@require_POST
def explain(request: HttpRequest, queryid: str) -> HttpResponse:
    """EXPLAIN without running the statement (any operator): estimated or generic plan."""
    mode = request.POST.get("mode", "plain")
    return _explain(request, _queryid(queryid), "generic" if mode == "generic" else "plain")


@role_required("engineer")
@require_POST
def explain_analyze(request: HttpRequest, queryid: str) -> HttpResponse:
    """EXPLAIN ANALYZE of a plain SELECT, read-only and rolled back, under a timeout; audited."""
    return _explain(request, _queryid(queryid), "analyze")


def _explain(request: HttpRequest, number: int, mode: str) -> HttpResponse:
    context = _statement_context(request, number) if not request.htmx else {}
    status, detail = (context["status"], context["detail"]) if context else statement_detail(number)
    context.update({"detail": detail, "status": status, "mode": mode})
    values = _parameter_values(request, detail)
    http_status = 200
    outcome: ExplainOutcome | None = None
    try:
        if not detail.in_this_database:
            raise ExplainRefused(
                "This statement ran in another database than the console's target, "
                "so it cannot be explained here."
            )
        if mode == "generic" and not detail.supports_generic_plan:
            raise ExplainRefused("A generic plan needs PostgreSQL 16 or newer.")
        outcome = explain_statement(
            detail.query, values, analyze=mode == "analyze", generic=mode == "generic"
        )
    except ExplainRefused as exc:
        context["explain_error"] = str(exc)
        http_status = 400
    except TargetError as exc:
        context["explain_error"] = exc.sentence
        http_status = exc.status
        if mode == "analyze":
            record(
                request,
                "queries.explain_analyze",
                detail={"queryid": number, "ok": False, "error": exc.sentence},
            )
    else:
        if mode == "analyze":
            # The parameter values are not recorded: they may be an end-user's data.
            record(
                request,
                "queries.explain_analyze",
                detail={
                    "queryid": number,
                    "ok": True,
                    "execution_ms": outcome.plan.execution_ms,
                },
            )
    context["outcome"] = outcome
    context["statement_html"] = highlight_sql(outcome.statement) if outcome else ""
    template = "queries/statement.html#plan" if request.htmx else "queries/statement.html"
    return render(request, template, context, status=http_status)


@require_POST
def hypothetical(request: HttpRequest, queryid: str) -> HttpResponse:
    number = _queryid(queryid)
    context = _statement_context(request, number) if not request.htmx else {}
    status, detail = (context["status"], context["detail"]) if context else statement_detail(number)
    context.update({"detail": detail, "status": status})
    values = _parameter_values(request, detail)
    http_status = 200
    comparison: HypotheticalComparison | None = None
    try:
        if not detail.in_this_database:
            raise ExplainRefused(
                "This statement ran in another database than the console's target, "
                "so its plan cannot be compared here."
            )
        wanted = [s for s in suggestions_for(detail.query) if not s.covered_by]
        comparison = compare_with_hypothetical_indexes(detail.query, values, wanted)
    except ExplainRefused as exc:
        context["hypothetical_error"] = str(exc)
        http_status = 400
    except TargetError as exc:
        context["hypothetical_error"] = exc.sentence
        http_status = exc.status
    context["comparison"] = comparison
    template = "queries/statement.html#hypothetical" if request.htmx else "queries/statement.html"
    return render(request, template, context, status=http_status)


# ---- indexes ----------------------------------------------------------------------------------


def indexes(request: HttpRequest) -> HttpResponse:
    try:
        report = index_report()
        status, top = top_statements()
    except TargetError as exc:
        return _part_error(request, "queries/indexes.html#report", exc)
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


# ---- activity -----------------------------------------------------------------------------------


def _activity_url(**params: str) -> str:
    url = reverse("queries:activity")
    return f"{url}?{urlencode(params)}" if params else url


def activity(request: HttpRequest) -> HttpResponse:
    show_idle = request.GET.get("idle") == "1"
    paused = request.GET.get("refresh") == "off"
    roles = _roles_held(request)
    target_error = ""
    try:
        data = read_activity(reveal_values="engineer" in roles, show_idle=show_idle)
    except TargetError as exc:
        if not request.htmx:
            raise
        data, target_error = None, exc.sentence  # the poll goes on and recovers by itself
    idle = {"idle": "1"} if show_idle else {}
    context = {
        "tab": "activity",
        "activity": data,
        "target_error": target_error,
        "paused": paused,
        "show_idle": show_idle,
        "poll_url": _activity_url(**idle),
        "pause_url": _activity_url(**idle, refresh="off"),
        "idle_url": _activity_url(
            **({} if show_idle else {"idle": "1"}), **({"refresh": "off"} if paused else {})
        ),
        "can_signal": "admin" in roles,
        "values_masked": "engineer" not in roles,
    }
    template = "queries/activity.html#sessions" if request.htmx else "queries/activity.html"
    return render(request, template, context)


@role_required("admin")
@require_http_methods(["GET", "POST"])
def signal(request: HttpRequest, pid: int, how: str) -> HttpResponse:
    if how not in ("cancel", "terminate"):
        raise Http404(f"“{how}” is not an action on a backend: use cancel or terminate.")
    if request.method == "GET":
        session = session_for(pid, reveal_values=True)
        if session is None and not request.htmx:
            raise Http404(f"Backend {pid} is not running any more.")
        template = "queries/signal.html#confirm" if request.htmx else "queries/signal.html"
        return render(request, template, {"tab": "activity", "session": session, "how": how})
    try:
        backend_start = datetime.fromisoformat(request.POST.get("backend_start", ""))
    except ValueError:
        backend_start = None
    if request.POST.get("confirm") != "yes" or backend_start is None:
        session = session_for(pid, reveal_values=True)
        context = {
            "tab": "activity",
            "session": session,
            "how": how,
            "error": "Confirm by pressing the button on this form (it names the session).",
        }
        template = "queries/signal.html#confirm" if request.htmx else "queries/signal.html"
        return render(request, template, context, status=400)
    outcome = signal_backend(pid, backend_start, how)
    record(
        request,
        f"queries.{how}_backend",
        detail={
            "pid": pid,
            "backend_start": backend_start.isoformat(),
            "query_sha256": outcome.query_hash,
            "sent": outcome.sent,
        },
    )
    if request.htmx:
        return render(request, "queries/signal.html#outcome", {"outcome": outcome, "how": how})
    (messages.success if outcome.sent else messages.warning)(request, outcome.sentence)
    return redirect("queries:activity")


# ---- health, snapshots, reset -------------------------------------------------------------------


def health(request: HttpRequest) -> HttpResponse:
    try:
        context = {"tab": "health", "health": database_health()}
    except TargetError as exc:
        return _part_error(request, "queries/health.html#numbers", exc)
    template = "queries/health.html#numbers" if request.htmx else "queries/health.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def snapshots(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not has_role(request.user, "engineer"):
            return _forbidden(request, "engineer")
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


@role_required("admin")
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        database = reset_statement_statistics()
        record(request, "queries.reset_statistics", detail={"database": database})
        messages.success(
            request,
            f"The statement statistics of database “{database}” were reset. "
            "Snapshots taken before remain in the history.",
        )
        response = redirect("queries:statements")
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("queries:statements")
        return response
    context = {"tab": "statements"}
    if request.method == "POST":
        context["error"] = "Confirm by pressing the reset button."
    template = "queries/reset.html#confirm" if request.htmx else "queries/reset.html"
    return render(request, template, context, status=400 if request.method == "POST" else 200)
