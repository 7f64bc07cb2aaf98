"""The audit page: who saw or did what, to whom and why; filterable, paged, exportable."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import role_required
from dashboard.audit.filters import (
    FILTER_NAMES,
    AuditFilterForm,
    audit_page,
    csv_safe,
    filtered_events,
    known_actions,
    sees_everyone,
    without_row_images,
)
from dashboard.audit.services import record
from dashboard.audit.verification import chain_status

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
EXPORT = "audit.export"


@role_required("support")
@require_GET
def events(request: HttpRequest) -> HttpResponse:
    page = audit_page(request.user, request.GET)
    if request.htmx:
        return render(request, "audit/events.html#events", {"page": page})
    # Only the full page verifies the chain (from its checkpoint, a bounded number of events).
    return render(request, "audit/events.html", {"page": page, "chain": chain_status()})


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for event in rows:
        yield writer.writerow(
            [
                csv_safe(event.at),
                csv_safe(event.operator_name),
                csv_safe(event.action),
                csv_safe(event.subject_user),
                csv_safe(" ".join(event.tables)),
                csv_safe(event.reason),
                csv_safe(event.client_address),
                csv_safe(
                    json.dumps(without_row_images(event.detail), ensure_ascii=False, sort_keys=True)
                ),
            ]
        )


@role_required("support")
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    everyone = sees_everyone(request.user)
    form = AuditFilterForm(request.GET or None, actions=known_actions(), everyone=everyone)
    data = form.cleaned_data if form.is_valid() else {}
    rows = filtered_events(request.user, data).order_by("-at", "-id")
    kept = {name: request.GET[name] for name in FILTER_NAMES if request.GET.get(name)}
    record(request, EXPORT, detail={"filters": kept, "format": "csv"})
    response = StreamingHttpResponse(
        _csv_lines(rows.iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
