"""The audit page: who saw or did what, to whom and why; filterable, paged, exportable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from django.db import connections
from django.db.models import F, Func, QuerySet, TextField, Value
from django.db.models.functions import Cast
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import role_required
from dashboard.audit.filters import (
    FILTER_NAMES,
    AuditFilterForm,
    audit_page,
    filtered_events,
    known_actions,
    sees_everyone,
    without_row_images_sql,
)
from dashboard.audit.services import record
from dashboard.audit.verification import chain_status
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.spreadsheet_cells import safe_cell_sql

CSV_COLUMNS = (
    "at",
    "operator",
    "action",
    "subject_user",
    "tables",
    "reason",
    "client_address",
    "detail",
)
# The exported columns as text the database writes (times in UTC, ISO 8601); cells that could
# start a formula made inert the same way as every export (dashboard/spreadsheet_cells.py).
CSV_TEXT = {
    "csv_at": Func(
        F("at"),
        template=(
            "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00')"
        ),
        output_field=TextField(),
    ),
    "csv_operator": safe_cell_sql(F("operator_name")),
    "csv_action": safe_cell_sql(F("action")),
    "csv_subject": safe_cell_sql(F("subject_user")),
    "csv_tables": safe_cell_sql(
        Func(F("tables"), Value(" "), function="array_to_string", output_field=TextField())
    ),
    "csv_reason": safe_cell_sql(F("reason")),
    "csv_address": Func(F("client_address"), function="host", output_field=TextField()),
    "csv_detail": Cast(without_row_images_sql(F("detail")), TextField()),
}
EXPORT = "audit.export"


@role_required("support")
@require_GET
def events(request: HtmxHttpRequest) -> HttpResponse:
    page = audit_page(request.user, request.GET)
    if request.htmx:
        return render(request, "audit/events.html#events", {"page": page})
    # Only the full page verifies the chain (from its checkpoint, a bounded number of events).
    return render(request, "audit/events.html", {"page": page, "chain": chain_status()})


def _database_csv(rows: QuerySet) -> Iterator[bytes]:
    """Yield the header line, then the rows as the database writes them (COPY … TO STDOUT).

    The database streams while this process forwards its blocks: no row is parsed or formatted
    in Python, so the export runs at the speed of the connection."""
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    sql, params = rows.query.sql_with_params()
    with (
        connections[rows.db].cursor() as cursor,
        cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
    ):
        for block in copy:
            yield bytes(block)


@role_required("support")
@require_GET
def export_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    everyone = sees_everyone(request.user)
    form = AuditFilterForm(request.GET or None, actions=known_actions(), everyone=everyone)
    data = form.cleaned_data if form.is_valid() else {}
    rows = (
        filtered_events(request.user, data)
        .order_by("-at", "-id")
        .annotate(**CSV_TEXT)
        .values_list(*CSV_TEXT)
    )
    kept = {name: request.GET[name] for name in FILTER_NAMES if request.GET.get(name)}
    record(request, EXPORT, detail={"filters": kept, "format": "csv"})
    response = StreamingHttpResponse(
        _database_csv(rows),
        content_type="text/csv; charset=utf-8",
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
