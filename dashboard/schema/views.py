"""Schema pages: the table list, one table, and the ER diagrams (inline and as SVG files)."""

from __future__ import annotations

from functools import partial

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import role_required
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.params import integer, optional, text
from dashboard.schema.diagrams import drawn_schema_diagram, neighbourhood_diagram
from dashboard.schema.erd_model import Diagram
from dashboard.schema.erd_svg import render_svg
from dashboard.schema.services import schema_overview, table_list
from dashboard.schema.table_page import table_detail


def table_url(name: str) -> str:
    """Return the URL of a table's page."""
    return reverse("schema:table", kwargs={"name": name})


def diagram_svg(diagram: Diagram, id_prefix: str) -> SafeString:
    """Return the diagram as SVG markup safe to embed (render_svg escapes every name)."""
    return mark_safe(render_svg(diagram, link=table_url, id_prefix=id_prefix))  # noqa: S308


@require_GET
@role_required("viewer")
def tables(request: HtmxHttpRequest) -> HttpResponse:
    """The table list with the drift report; htmx filtering gets the list part alone."""
    search = text(request.GET.get("q", ""), "q")
    sort = request.GET.get("sort", "name")
    page = optional(request.GET, "page", partial(integer, minimum=1, maximum=1_000_000), 1)
    if request.htmx and not request.htmx.history_restore_request:
        listing = table_list(search, sort, page)
        return render(request, "schema/tables.html#table-list", {"listing": listing})
    overview = schema_overview(search, sort, page)
    return render(
        request,
        "schema/tables.html",
        {"listing": overview.listing, "drift": overview.drift},
    )


@require_GET
@role_required("viewer")
def table(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """One table: columns, keys, indexes, triggers, policies and its neighbourhood diagram."""
    detail = table_detail(name)
    context: dict[str, object] = {"detail": detail}
    if detail.diagram.value is not None:
        context["diagram_svg"] = diagram_svg(detail.diagram.value, "erd-table")
    return render(request, "schema/table.html", context)


@require_GET
@role_required("viewer")
def diagram(request: HtmxHttpRequest) -> HttpResponse:
    """The whole schema's ER diagram, embedded in a page (drawn once per schema version)."""
    found, drawn = drawn_schema_diagram(lambda d: diagram_svg(d, "erd-schema"), "page")
    return render(request, "schema/diagram.html", {"diagram": found, "diagram_svg": drawn})


@require_GET
@role_required("viewer")
def erd(request: HtmxHttpRequest, name: str | None = None) -> HttpResponse:
    """The ER diagram as an SVG file: the whole schema, or one table and its neighbours."""
    if name is None:
        _, drawn = drawn_schema_diagram(lambda d: render_svg(d, link=table_url), "file")
    else:
        drawn = render_svg(neighbourhood_diagram(name), link=table_url)
    response = HttpResponse(drawn, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, no-cache"
    return response
