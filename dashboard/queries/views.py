"""Query performance pages of slow statements: the list, one statement, EXPLAIN and hypopg."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.accounts.roles import has_role, role_required
from dashboard.audit.services import record
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.params import BadParameter, integer, text
from dashboard.queries import charts
from dashboard.queries.analysis import named_relations
from dashboard.queries.explain import ExplainOutcome, ExplainRefused, explain_statement
from dashboard.queries.listing import SORTS, WINDOWS, StatementFilters
from dashboard.queries.snapshots import statement_history
from dashboard.queries.sqlformat import highlight_sql
from dashboard.queries.statement_detail import StatementDetail, statement_detail
from dashboard.queries.statements import statement_page
from dashboard.queries.suggestions import (
    HypotheticalComparison,
    compare_with_hypothetical_indexes,
    hypopg_available,
    suggestions_for,
)
from dashboard.queries.templatetags.queries_format import ms, thousands
from dashboard.queries.view_helpers import HISTORY_SPANS, part_error, roles_held
from dashboard.target import TargetError, target_schema
from dashboard.users.access import RowsAccess, statement_access

ANALYZE = "queries.explain_analyze"


@role_required("viewer")
def statements(request: HtmxHttpRequest) -> HttpResponse:
    filters = StatementFilters.from_query(request.GET)
    try:
        status, page = statement_page(filters)
    except TargetError as exc:
        return part_error(request, "queries/statements.html#results", exc)
    roles = roles_held(request)
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
        "console_show_link": filters.query_string(include_console=True),
        "console_hide_link": filters.query_string(include_console=False),
        "statement_url": reverse("queries:statements"),
        "can_reset": "admin" in roles,
        "can_capture": "engineer" in roles,
    }
    template = "queries/statements.html#results" if request.htmx else "queries/statements.html"
    return render(request, template, context)


def _queryid(raw: str) -> int:
    try:
        return integer(raw, "query id", expected="a query id (a whole number)")
    except BadParameter as exc:
        raise Http404(exc.sentence) from None


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


def _statement_context(request: HtmxHttpRequest, queryid: int) -> dict[str, Any]:
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


@role_required("viewer")
def statement(request: HtmxHttpRequest, queryid: str) -> HttpResponse:
    number = _queryid(queryid)
    if request.htmx and request.htmx.target == "history":
        context = _history_context(number, request.GET.get("history", "24h"))
        context["detail"] = {"queryid": number}
        return render(request, "queries/statement.html#history", context)
    return render(request, "queries/statement.html", _statement_context(request, number))


def _parameter_values(request: HtmxHttpRequest, detail: StatementDetail) -> dict[int, str]:
    values = {}
    for slot in detail.parameters:
        slot.value = text(request.POST.get(slot.name, "")[:10_000], slot.name)
        values[slot.number] = slot.value
    return values


@role_required("viewer")
@require_POST
def explain(request: HtmxHttpRequest, queryid: str) -> HttpResponse:
    """EXPLAIN without running the statement (any operator): estimated or generic plan."""
    mode = request.POST.get("mode", "plain")
    return _explain(request, _queryid(queryid), "generic" if mode == "generic" else "plain")


@role_required("engineer")
@require_POST
def explain_analyze(request: HtmxHttpRequest, queryid: str) -> HttpResponse:
    """EXPLAIN ANALYZE of a plain SELECT, read-only and rolled back, under a timeout; audited."""
    return _explain(request, _queryid(queryid), "analyze")


def _explain(request: HtmxHttpRequest, number: int, mode: str) -> HttpResponse:
    context = _statement_context(request, number) if not request.htmx else {}
    status, detail = (context["status"], context["detail"]) if context else statement_detail(number)
    context.update({"detail": detail, "status": status, "mode": mode})
    values = _parameter_values(request, detail)
    access: RowsAccess | None = None
    if mode == "analyze":
        page = reverse("queries:statement", args=[number])
        found = statement_access(request, named_relations(detail.query), page)
        if isinstance(found, HttpResponse):
            return found  # the reason form first: the rows it counts may be end-users'
        access = found
    http_status = 200
    outcome: ExplainOutcome | None = None
    try:
        if not detail.in_this_database:
            raise ExplainRefused(
                "This statement ran in another database than the console's target, "
                "so it cannot be explained here."
            )
        outcome = explain_statement(
            detail.query, values, analyze=mode == "analyze", generic=mode == "generic"
        )
    except ExplainRefused as exc:
        context["explain_error"] = str(exc)
        http_status = 400
    except TargetError as exc:
        context["explain_error"] = exc.sentence
        http_status = exc.status
        if access is not None:
            _record_analyze(access, values, {"queryid": number, "ok": False, "error": exc.sentence})
    else:
        if access is not None:
            assert outcome is not None
            execution = {"queryid": number, "ok": True, "execution_ms": outcome.plan.execution_ms}
            _record_analyze(access, values, execution)
    context["outcome"] = outcome
    context["statement_html"] = highlight_sql(outcome.statement) if outcome else ""
    template = "queries/statement.html#plan" if request.htmx else "queries/statement.html"
    return render(request, template, context, status=http_status)


def _record_analyze(access: RowsAccess, values: dict[int, str], detail: dict[str, Any]) -> None:
    """Record an EXPLAIN ANALYZE: over end-users' rows, with the reason and the values typed
    (what the row counts answered, like a list's filters); otherwise without them."""
    typed = {f"${number}": value for number, value in sorted(values.items())}
    if access.record(ANALYZE, tables=access.owned, detail={**detail, "values": typed}) is None:
        record(access.request, ANALYZE, detail=detail)


@role_required("viewer")
@require_POST
def hypothetical(request: HtmxHttpRequest, queryid: str) -> HttpResponse:
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
