"""HTTP views of the Data section: thin, one service call each, full page or htmx partial."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import ROWS_ROLE, has_role, role_required
from dashboard.audit.services import record
from dashboard.data.display import display_for
from dashboard.data.export import CsvExport, max_export_rows
from dashboard.data.filters import describe
from dashboard.data.query import ListQuery
from dashboard.data.rows import row_page
from dashboard.data.services import (
    ListPage,
    browsable_table,
    list_count,
    list_page,
    table_index,
)
from dashboard.users.scope import user_scope  # ?scope_user=<id>: one end-user's rows

EXPORT_ROLE = "support"  # a table's rows leave the console: more than a viewer may do


# Viewers see the table picker (names, estimates, sizes) and the Schema section, not rows.


def wants_partial(request: HttpRequest) -> bool:
    """Return True for an htmx request that swaps part of the page (not a history restore)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


@require_GET
@role_required("viewer")
@vary_on_headers("HX-Request")
def index(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    context = {"tables": table_index(search), "search": search}
    template = "data/index.html#tables" if wants_partial(request) else "data/index.html"
    return render(request, template, context)


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def table_list(request: HttpRequest, table: str) -> HttpResponse:
    scope = user_scope(request, table)
    if isinstance(scope, HttpResponse):
        return scope
    page = list_page(table, request.GET, scope)
    template = "data/list.html#listing" if wants_partial(request) else "data/list.html"
    return render(request, template, _list_context(request, page))


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def table_count(request: HttpRequest, table: str) -> HttpResponse:
    scope = user_scope(request, table, "count")
    if isinstance(scope, HttpResponse):
        return scope
    count = list_count(table, request.GET, scope)
    if wants_partial(request):
        return render(request, "data/list.html#count", {"count": count})
    page = list_page(table, request.GET, scope)
    return render(request, "data/list.html", {**_list_context(request, page), "count": count})


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def row_detail(request: HttpRequest, table: str) -> HttpResponse:
    scope = user_scope(request, table, "row")
    if isinstance(scope, HttpResponse):
        return scope
    row = row_page(table, request.GET, restriction=scope)
    template = "data/row.html#record" if wants_partial(request) else "data/row.html"
    return render(request, template, {"row": row})


@require_GET
@role_required(EXPORT_ROLE)
def export(request: HttpRequest, table: str) -> StreamingHttpResponse:
    scope = user_scope(request, table, "export")
    if isinstance(scope, HttpResponse):
        return scope
    found, _ = browsable_table(table)
    query = ListQuery(found, request.GET, display=display_for(table), restriction=scope)
    csv_export = CsvExport(query)  # reads the first batch now: a failure is a normal error page
    record(
        request,
        "data.export",
        tables=[table],
        detail={
            "columns": query.shown,
            "filters": describe(query.filters.active),
            "search": query.search,
            "max_rows": csv_export.limit,
        },
    )
    response = StreamingHttpResponse(csv_export.lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_file_name(table)}.csv"'
    response["X-Export-Row-Limit"] = str(csv_export.limit)
    response["Cache-Control"] = "no-store"
    return response


def _list_context(request: HttpRequest, page: ListPage) -> dict[str, object]:
    return {
        "page": page,
        "query": page.query,
        "export_limit": max_export_rows(),
        "can_export": has_role(request.user, EXPORT_ROLE),
    }


def _file_name(table: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in table) or "export"
