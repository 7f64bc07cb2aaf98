"""What a Data page showed, as the audit trail records it: the filters and which rows.

A list is recorded by its filters, search and order, the number of rows shown and the keys of
the first and last of them; a row page by its key and the keys of the child rows it listed; an
export by what selects its rows. Keys are written as JSON-safe values (whole numbers and text
as they are, anything else as the text an operator would type). Secret-looking keys never
appear: such tables have no row keys at all (see ListQuery.keyset).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.data.cells import to_text
from dashboard.data.filters import describe
from dashboard.data.query import ListQuery
from dashboard.data.rows import RowPage
from dashboard.data.services import ListPage, ListRow


def plain_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """Return a primary key with JSON-safe values."""
    return {
        name: value
        if isinstance(value, int | str) and not isinstance(value, bool)
        else to_text(value)
        for name, value in key.items()
    }


def _keys(rows: list[ListRow]) -> list[dict[str, Any]]:
    return [plain_key(row.key) for row in rows if row.key is not None]


def query_shown(query: ListQuery) -> dict[str, Any]:
    """Return what selects a list's rows: filters, search and order."""
    return {
        "filters": describe(query.filters.active),
        "search": query.search,
        "order": query.order.token,
    }


def list_shown(page: ListPage) -> dict[str, Any]:
    """Return a list page as recorded: its selection, the row count and the first and last keys."""
    rows: dict[str, Any] = {"count": len(page.rows)}
    keys = _keys(page.rows)
    if keys:
        rows["first"], rows["last"] = keys[0], keys[-1]
    return {**query_shown(page.query), "rows": rows}


def row_shown(row: RowPage) -> tuple[list[str], dict[str, Any]]:
    """Return the tables a row page showed rows of, and the page as recorded: the row's key and
    the keys of the child rows listed under it."""
    children = {child.table: _keys(child.rows) for child in row.children if child.rows}
    tables = [row.table, *children]
    detail = {"rows": {"keys": [plain_key(row.key)]}, "children": children}
    return tables, detail


def export_shown(query: ListQuery, limit: int) -> dict[str, Any]:
    """Return an export as recorded: what selects its rows, its columns and its bound."""
    return {**query_shown(query), "columns": query.shown, "max_rows": limit}
