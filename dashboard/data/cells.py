"""How values are shown: `to_text` for links and exports, the cells of list and row pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.utils.safestring import SafeString

from dashboard.data.columns import ColumnInfo
from dashboard.html_parts import HtmlBuilder, html_format
from dashboard.infinite_dates import infinity_text

PREVIEW_CHARS = 120  # characters of a value shown in a list cell
TITLE_CHARS = 24  # a longer value may be cut by its column's width: its title holds it all
UNCUT_KINDS = ("timestamp", "date", "time", "integer", "number", "boolean", "uuid")
FOLD_CHARS = 300  # longer text is folded in a <details> on the row page


def to_text(value: Any) -> str:
    """Return a value as the text an operator would type back (URLs, CSV cells)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is float:  # not bool: its type is bool
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        # 'infinity' / '-infinity' as PostgreSQL writes them, and as a filter or link takes them.
        infinite = infinity_text(value)
        if infinite is not None:
            return infinite
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _interval_text(value)
    if isinstance(value, bytes | memoryview | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, list | tuple):
        if any(isinstance(item, dict | list) for item in value):
            return json.dumps(value, ensure_ascii=False, default=str)
        return "{" + ", ".join(to_text(item) for item in value) + "}"
    return str(value)


def _interval_text(value: timedelta) -> str:
    days, seconds = value.days, value.seconds
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if value.microseconds:
        clock += f".{value.microseconds:06d}"
    return f"{days} days {clock}" if days else clock


MASK = "••••••••"


@dataclass(slots=True)
class Cell:
    """One value as a page shows it: text, or a flag for NULL / masked, plus an optional link."""

    text: str = ""
    null: bool = False
    masked: bool = False
    numeric: bool = False
    truncated: bool = False
    href: str = ""
    kind: str = "text"
    # Row page only: pretty JSON, list items, or a long text folded in a <details>.
    pretty: str = ""
    items: list[str] = field(default_factory=list)
    folded: bool = False
    size: int | None = None
    key: bool = False  # the list's key column: it stays in view when the list scrolls sideways


MASKED_HTML = {
    False: SafeString(
        f'<span class="masked" title="Masked: the column name looks secret">{MASK}</span>'
    ),
    True: SafeString(
        '<span class="masked" title="Masked: the column name looks secret">NULL</span>'
    ),
}
NULL_HTML = SafeString('<span class="null">NULL</span>')


TD_CLOSE = SafeString("</td>")
BOOLEAN_HTML = {
    text: html_format('<span class="bool {}">{}</span>', text, text) for text in ("true", "false")
}


def _cell_content(cell: Cell) -> SafeString:
    """Return a list cell's content, escaped."""
    builder = HtmlBuilder()
    _add_content(cell, builder)
    return builder.html()


def _add_content(cell: Cell, builder: HtmlBuilder) -> None:
    """Add a list cell's content to `builder`: markup, or its text (escaped by the builder)."""
    if cell.masked:
        builder.markup(MASKED_HTML[cell.null])
    elif cell.null:
        builder.markup(NULL_HTML)
    elif cell.href:
        builder.markup(html_format('<a href="{}">{}</a>', cell.href, cell.text))
    elif cell.kind == "boolean":
        builder.markup(
            BOOLEAN_HTML.get(cell.text)
            or html_format('<span class="bool {}">{}</span>', cell.text, cell.text)
        )
    else:
        builder.text(cell.text)


def cell_html(cell: Cell) -> SafeString:
    """Return the inner HTML of a list cell, escaped."""
    return _cell_content(cell)


def cell_title(cell: Cell) -> str:
    """Return the full value of a list cell for its title, when the cell may be cut."""
    if cell.null or cell.masked or cell.kind in UNCUT_KINDS or len(cell.text) <= TITLE_CHARS:
        return ""
    if cell.truncated:
        return f"{cell.text} (open the row to read all of it)"
    return cell.text


@lru_cache(maxsize=512)
def _td(kind: str, numeric: bool, key: bool) -> SafeString:
    classes = kind + (" num" if numeric else "") + (" key" if key else "")
    return html_format('<td class="{}">', classes)


def row_parts(cells: list[Cell], builder: HtmlBuilder) -> None:
    """Add the <td> elements of one list row to `builder`, every value escaped (a list renders
    hundreds of cells: plain Python with `html_format` and the builder rather than a template
    include; the caller joins all rows once)."""
    for cell in cells:
        title = cell_title(cell)
        if title:
            classes = cell.kind + (" num" if cell.numeric else "") + (" key" if cell.key else "")
            # Focusable, so the keyboard opens it too (see static/js/data.js).
            builder.markup(
                html_format('<td class="{} cut" tabindex="0" title="{}">', classes, title)
            )
        else:
            builder.markup(_td(cell.kind, cell.numeric, cell.key))
        _add_content(cell, builder)
        builder.markup(TD_CLOSE)


def row_html(cells: list[Cell]) -> SafeString:
    """Return the <td> elements of one list row, every value escaped."""
    builder = HtmlBuilder()
    row_parts(cells, builder)
    return builder.html()


def byte_count(size: int) -> str:
    """Return '1 byte' / '2,048 bytes'."""
    return "1 byte" if size == 1 else f"{size:,} bytes"


def list_cell(info: ColumnInfo, value: Any) -> Cell:
    """Return the cell of a list page for a value selected as a preview (see query.py)."""
    if info.masked:
        # The list selects `column IS NULL` for a masked column, never its value.
        return Cell(masked=True, null=bool(value), kind=info.kind)
    if value is None:
        return Cell(null=True, numeric=info.numeric, kind=info.kind)
    if info.kind == "bytes":
        return Cell(text=byte_count(int(value)), kind="bytes", size=int(value))
    text = to_text(value)
    truncated = len(text) > PREVIEW_CHARS
    if truncated:
        text = text[:PREVIEW_CHARS].rstrip() + "…"
    return Cell(text=text, numeric=info.numeric, truncated=truncated, kind=info.kind)


def full_cell(info: ColumnInfo, value: Any) -> Cell:
    """Return the cell of a row page: every value in full, shaped for reading."""
    if info.masked:
        return Cell(masked=True, null=value is None, kind=info.kind)
    if value is None:
        return Cell(null=True, kind=info.kind)
    if info.kind == "bytes":  # the row page selects octet_length(), never the bytes
        return Cell(text=byte_count(int(value)), kind="bytes", size=int(value))
    if info.kind == "json":
        parsed = json.loads(value) if isinstance(value, str) else value
        return Cell(
            pretty=json.dumps(parsed, indent=2, ensure_ascii=False, sort_keys=True, default=str),
            kind="json",
        )
    if info.kind == "array" and isinstance(value, list | tuple):
        return Cell(items=[to_text(item) for item in value], kind="array")
    text = to_text(value)
    folded = len(text) > FOLD_CHARS or text.count("\n") > 3
    return Cell(text=text, numeric=info.numeric, folded=folded, kind=info.kind)
