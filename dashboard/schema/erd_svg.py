"""ER diagrams drawn as SVG on the server: no JavaScript, no external assets.

Every name is escaped (and characters XML forbids are replaced), so a table called `<script>`
is drawn as text. Only presentation attributes are used (no `style`), which the page's Content
Security Policy allows both inline and when the SVG is opened on its own. They draw the light
scheme; each coloured part also has a class (`erd-box`, `erd-head`, `erd-ink`, ...) through which
the page's stylesheet (static/css/schema.css) gives an embedded diagram the dark scheme: CSS
wins over presentation attributes. The downloaded file keeps the light colours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

from dashboard.schema.erd_layout import (
    CHAR_WIDTH,
    FONT_SIZE,
    HEADER_HEIGHT,
    PADDING,
    ROW_HEIGHT,
    Box,
    layout,
)
from dashboard.schema.erd_model import Diagram, DiagramEdge

FONT_FAMILY = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace'
COLOURS = {
    "box": "#ffffff",
    "border": "#c9d0db",
    "header": "#eef2ff",
    "header_ink": "#1d2330",
    "focus": "#2458d3",
    "focus_ink": "#ffffff",
    "ink": "#1d2330",
    "muted": "#667085",
    "pk": "#a15c00",
    "fk": "#2458d3",
    "edge": "#98a2b3",
}

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(value: str) -> str:
    """Return `value` escaped for XML text and attributes, with forbidden characters replaced."""
    return escape(_XML_FORBIDDEN.sub("\ufffd", value), quote=True)


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    return value[: max(1, limit - 1)] + "…"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _curve_left(px: float, py: float, qx: float, qy: float) -> str:
    """Return an S-shaped curve from (px, py) leftwards to (qx, qy), leaving and arriving flat."""
    bend = max(30.0, (px - qx) / 2)
    first, second = f"{_number(px - bend)},{_number(py)}", f"{_number(qx + bend)},{_number(qy)}"
    return f" C{first} {second} {_number(qx)},{_number(qy)}"


def _edge_path(
    edge: DiagramEdge,
    source: Box,
    target: Box,
    compact: bool,
    route: list[tuple[float, float, float]],
) -> str:
    sy = source.row_y(edge.source_columns[0] if edge.source_columns else "", compact)
    ty = target.row_y(edge.target_columns[0] if edge.target_columns else "", compact)
    if source is target:  # a self-reference: a loop on the right side
        right = source.x + source.width
        return (
            f"M{_number(right)},{_number(sy)} C{_number(right + 26)},{_number(sy)} "
            f"{_number(right + 26)},{_number(ty)} {_number(right + 1)},{_number(ty)}"
        )
    if source.x >= target.x + target.width:  # the usual case: the target is to the left
        path = f"M{_number(source.x)},{_number(sy)}"
        x, y = source.x, sy
        for left, right, through in route:  # across each layer in between
            path += _curve_left(x, y, right, through) + f" H{_number(left)}"
            x, y = left, through
        return path + _curve_left(x, y, target.x + target.width + 1, ty)
    if source.x + source.width <= target.x:  # a cycle drawn rightwards
        sx, tx = source.x + source.width, target.x - 1
        bend = max(30.0, (tx - sx) / 2)
        return (
            f"M{_number(sx)},{_number(sy)} C{_number(sx + bend)},{_number(sy)} "
            f"{_number(tx - bend)},{_number(ty)} {_number(tx)},{_number(ty)}"
        )
    # Same column: leave and enter on the right, bulging outwards.
    sx, tx = source.x + source.width, target.x + target.width
    bulge = max(sx, tx) + 36
    return (
        f"M{_number(sx)},{_number(sy)} C{_number(bulge)},{_number(sy)} "
        f"{_number(bulge)},{_number(ty)} {_number(tx + 1)},{_number(ty)}"
    )


def _table_svg(box: Box, compact: bool, focus: bool, href: str | None) -> list[str]:
    table = box.table
    fill = COLOURS["focus"] if focus else COLOURS["header"]
    header_ink = COLOURS["focus_ink"] if focus else COLOURS["header_ink"]
    head = "erd-head-focus" if focus else "erd-head"
    limit = int((box.width - 2 * PADDING) / CHAR_WIDTH)
    parts = [
        f'<g class="erd-table" data-table="{clean(table.name)}" '
        f'transform="translate({_number(box.x)},{_number(box.y)})">',
        f"<title>{clean(table.name)}</title>",
        f'<rect class="erd-box" width="{_number(box.width)}" height="{_number(box.height)}" '
        f'rx="6" fill="{COLOURS["box"]}" stroke="{COLOURS["border"]}"/>',
        f'<path class="{head}" d="M0.5,{HEADER_HEIGHT} V6 a5.5,5.5 0 0 1 5.5,-5.5 '
        f'H{_number(box.width - 6)} a5.5,5.5 0 0 1 5.5,5.5 V{HEADER_HEIGHT} Z" fill="{fill}"/>',
        f'<text class="{head}-ink" x="{PADDING}" y="17" font-weight="700" fill="{header_ink}">'
        f"{clean(_shorten(table.name, limit))}</text>",
    ]
    if compact:
        keys = sum(1 for c in table.columns if c.foreign_key)
        summary = f"{len(table.columns)} columns" + (f" · {keys} FK" if keys else "")
        parts.append(
            f'<text class="erd-muted" x="{PADDING}" y="{HEADER_HEIGHT + 11}" '
            f'fill="{COLOURS["muted"]}" font-size="11">{clean(summary)}</text>'
        )
    else:
        for index, column in enumerate(box.shown_columns):
            y = HEADER_HEIGHT + ROW_HEIGHT * index + 14
            marker = "PK" if column.primary_key else ("FK" if column.foreign_key else "")
            kind = "pk" if column.primary_key else "fk"
            type_room = max(4, min(len(column.type), limit - 4 - min(len(column.name), 12) - 2))
            shown_type = _shorten(column.type, type_room)
            shown_name = _shorten(column.name, limit - 4 - len(shown_type) - 1)
            parts.append(f"<g><title>{clean(column.name)} {clean(column.type)}</title>")
            if marker:
                parts.append(
                    f'<text class="erd-{kind}" x="{PADDING}" y="{y}" font-size="10" '
                    f'font-weight="700" fill="{COLOURS[kind]}">{marker}</text>'
                )
            parts.append(
                f'<text class="erd-ink" x="{PADDING + 4 * CHAR_WIDTH:.0f}" y="{y}" '
                f'fill="{COLOURS["ink"]}">{clean(shown_name)}</text>'
            )
            parts.append(
                f'<text class="erd-muted" x="{_number(box.width - PADDING)}" y="{y}" '
                f'text-anchor="end" fill="{COLOURS["muted"]}">{clean(shown_type)}</text></g>'
            )
        hidden = len(table.columns) - len(box.shown_columns)
        if hidden > 0:
            y = HEADER_HEIGHT + ROW_HEIGHT * len(box.shown_columns) + 14
            more = f"… {hidden} more column{'s' if hidden != 1 else ''}"
            parts.append(
                f'<text class="erd-muted" x="{PADDING + 4 * CHAR_WIDTH:.0f}" y="{y}" '
                f'fill="{COLOURS["muted"]}">{more}</text>'
            )
    parts.append("</g>")
    if href is not None:
        return [f'<a href="{clean(href)}">', *parts, "</a>"]
    return parts


def render_svg(
    diagram: Diagram,
    link: Callable[[str], str] | None = None,
    compact: bool | None = None,
    id_prefix: str = "erd",
) -> str:
    """Return the diagram as a standalone SVG document (also fit to embed in HTML)."""
    placed = layout(diagram, compact)
    marker_id = clean(f"{id_prefix}-arrow")
    if diagram.focus:
        title = f"Tables linked to {diagram.focus} in schema {diagram.schema}"
    else:
        title = f"Tables of schema {diagram.schema}"
    width, height = _number(placed.width), _number(placed.height)
    # A picture with links in it is a group of links (an "img" hides them from assistive
    # technology, and axe calls that nested-interactive).
    kind = "group" if link is not None else "img"
    role = f'role="{kind}" aria-label="{clean(title)}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="erd" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {role} '
        f'font-family="{clean(FONT_FAMILY)}" font-size="{FONT_SIZE}">',
        f"<title>{clean(title)}</title>",
        "<defs>",
        f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse">'
        f'<path class="erd-arrow" d="M0,1 L9,5 L0,9 z" fill="{COLOURS["edge"]}"/></marker>',
        "</defs>",
        '<g class="erd-edges" fill="none">',
    ]
    for edge in sorted(diagram.edges, key=lambda e: (e.source, e.name)):
        source, target = placed.boxes.get(edge.source), placed.boxes.get(edge.target)
        if source is None or target is None:
            continue
        route = placed.routes.get((edge.source, edge.name), [])
        path = _edge_path(edge, source, target, placed.compact, route)
        label = (
            f"{edge.name}: {edge.source}({', '.join(edge.source_columns)}) → "
            f"{edge.target}({', '.join(edge.target_columns)})"
        )
        out.append(
            f'<path class="erd-edge" data-source="{clean(edge.source)}" '
            f'data-target="{clean(edge.target)}" d="{path}" '
            f'stroke="{COLOURS["edge"]}" stroke-width="1.3" marker-end="url(#{marker_id})">'
            f"<title>{clean(label)}</title></path>"
        )
    out.append("</g>")
    out.append('<g class="erd-tables">')
    for name in sorted(placed.boxes):
        href = link(name) if link is not None else None
        out.extend(_table_svg(placed.boxes[name], placed.compact, name == diagram.focus, href))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
