"""HTTP views of the Data section: thin, one service call each, full page or htmx partial.

Rows of user-owned tables are end-users' data: every view that reads rows asks the reason gate
first (`table_access`) and records what it showed (`RowsAccess.record`); lookup tables pass
freely. See dashboard/users/access.py.
"""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import ROWS_ROLE, has_role, role_required
from dashboard.audit.models import AuditEvent
from dashboard.changes.links import may_change_rows, row_change_urls
from dashboard.data.display import display_for
from dashboard.data.export import CsvExport, max_export_rows
from dashboard.data.links import data_path
from dashboard.data.query import ListQuery
from dashboard.data.rows import row_page
from dashboard.data.services import (
    ListPage,
    RowCount,
    browsable_table,
    list_count,
    list_page,
    table_index,
)
from dashboard.data.shown_rows import export_shown, list_shown, query_shown, row_shown
from dashboard.params import integer, optional, text
from dashboard.users.access import (
    DATA_COUNT,
    DATA_EXPORT,
    DATA_LIST,
    DATA_ROW,
    RowsAccess,
    table_access,
)

EXPORT_ROLE = "support"  # a table's rows leave the console: more than a viewer may do
LOOK_PARAM = "look"  # on a list's count link: the audit event that recorded the list


# Viewers see the table picker (names, estimates, sizes) and the Schema section, not rows.


def wants_partial(request: HttpRequest) -> bool:
    """Return True for an htmx request that swaps part of the page (not a history restore)."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


@require_GET
@role_required("viewer")
@vary_on_headers("HX-Request")
def index(request: HttpRequest) -> HttpResponse:
    search = text(request.GET.get("q", ""), "q")[:100]
    page = optional(request.GET, "page", partial(integer, minimum=1, maximum=1_000_000), 1)
    found = table_index(search, page)
    context = {"tables": found.tables, "window": found.window, "search": search}
    template = "data/index.html#tables" if wants_partial(request) else "data/index.html"
    return render(request, template, context)


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def table_list(request: HttpRequest, table: str) -> HttpResponse:
    access = table_access(request, table)
    if isinstance(access, HttpResponse):
        return access
    page = list_page(table, request.GET, access.restriction, access.tables)
    event = _record_list(access, page)
    context = _list_context(request, page, event)
    if not wants_partial(request):
        return render(request, "data/list.html", context)
    response = render(request, "data/list.html#listing", context)
    # The address bar shows the list's state, not every empty field of the filter form.
    response["HX-Push-Url"] = page.query.here_url()
    return response


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def table_count(request: HttpRequest, table: str) -> HttpResponse:
    access = table_access(request, table)
    if isinstance(access, HttpResponse):
        return access
    count = list_count(table, request.GET, access.restriction, access.tables)
    if wants_partial(request):
        _record_count(request, access, table, count)
        return render(request, "data/list.html#count", {"count": count})
    page = list_page(table, request.GET, access.restriction, access.tables)
    event = _record_list(access, page)
    return render(
        request, "data/list.html", {**_list_context(request, page, event), "count": count}
    )


@require_GET
@role_required(ROWS_ROLE)
@vary_on_headers("HX-Request")
def row_detail(request: HttpRequest, table: str) -> HttpResponse:
    access = table_access(request, table, with_children=True)
    if isinstance(access, HttpResponse):
        return access
    row = row_page(table, request.GET, access.restriction, access.tables)
    tables, detail = row_shown(row)
    access.record(DATA_ROW, tables=tables, detail=detail, subject=access.subject_of_row(row.values))
    template = "data/row.html#record" if wants_partial(request) else "data/row.html"
    context: dict[str, object] = {"row": row}
    if access.subject and table in access.owned and may_change_rows(request.user):
        context.update(row_change_urls(access.subject, table, row.key.items()))  # in scope only
    return render(request, template, context)


@require_GET
@role_required(EXPORT_ROLE)
def export(request: HttpRequest, table: str) -> StreamingHttpResponse | HttpResponse:
    # Without a reason, the gate comes back to the list (a download cannot show a page).
    list_url = data_path("data:list", table) + (
        f"?{request.GET.urlencode()}" if request.GET else ""
    )
    access = table_access(request, table, back=list_url)
    if isinstance(access, HttpResponse):
        return access
    found, _ = browsable_table(table, access.tables)
    query = ListQuery(
        found, request.GET, display=display_for(table), restriction=access.restriction
    )
    csv_export = CsvExport(query)  # reads the first batch now: a failure is a normal error page
    access.record(
        DATA_EXPORT,
        tables=[table],
        detail=export_shown(query, csv_export.limit),
        subject=access.subject_in_filters(_filters(query)),
    )
    response = StreamingHttpResponse(csv_export.lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_file_name(table)}.csv"'
    response["X-Export-Row-Limit"] = str(csv_export.limit)
    response["Cache-Control"] = "no-store"
    return response


def _filters(query: ListQuery) -> list[tuple[str, str, str]]:
    return [(item.column, item.op, item.raw) for item in query.filters.active]


def _record_list(access: RowsAccess, page: ListPage) -> AuditEvent | None:
    subject = access.subject_in_filters(_filters(page.query))
    return access.record(
        DATA_LIST, tables=[page.query.table.name], detail=list_shown(page), subject=subject
    )


def _record_count(request: HttpRequest, access: RowsAccess, table: str, count: RowCount) -> None:
    """Record a count asked for on its own; the count a list page loads is part of that page's
    look (its link names the page's event), which is in the trail already."""
    found, _ = browsable_table(table, access.tables)
    query = ListQuery(
        found, request.GET, display=display_for(table), restriction=access.restriction
    )
    selection = {"filters": query_shown(query)["filters"], "search": query.search}
    subject = access.subject_in_filters(_filters(query))
    look = optional(request.GET, LOOK_PARAM, partial(integer, minimum=1), None)
    if access.recorded_by(look, DATA_LIST, table, selection, subject):
        return
    shown = {"exact": count.exact} if count.exact is not None else {"about": count.about}
    access.record(DATA_COUNT, tables=[table], detail={**selection, "count": shown}, subject=subject)


def _count_url(page: ListPage, event: AuditEvent | None) -> str:
    """Return the link of the list's lazily loaded count, naming the event of the list."""
    url = page.query.count_url()
    if event is None:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({LOOK_PARAM: event.pk})}"


def _list_context(
    request: HttpRequest, page: ListPage, event: AuditEvent | None = None
) -> dict[str, object]:
    return {
        "page": page,
        "query": page.query,
        "count_url": _count_url(page, event),
        "export_limit": max_export_rows(),
        "can_export": has_role(request.user, EXPORT_ROLE),
    }


def _file_name(table: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in table) or "export"
