"""Links between data pages: a row by its primary key, a parent row, a filtered child list."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

import sqlalchemy as sa
from django.urls import get_script_prefix, get_urlconf, reverse
from sqlalchemy import ForeignKeyConstraint, Table

from dashboard.data.cells import to_text
from dashboard.data.filters import filter_param

ROW_PARAM_PREFIX = "pk."


def data_path(view: str, table_name: str) -> str:
    """Return the path of a Data page of a table (memoized: a list builds hundreds of links)."""
    return _data_path(get_script_prefix(), get_urlconf(), view, table_name)


@lru_cache(maxsize=2048)
def _data_path(prefix: str, urlconf: str | None, view: str, table_name: str) -> str:
    return reverse(view, args=[table_name], urlconf=urlconf)


# What quote_plus leaves as it is: such text (a number, most keys) needs no quoting.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _quoted(text: str) -> str:
    return text if _UNQUOTED(text) else quote_plus(text)


def _query(pairs: Sequence[tuple[str, Any]]) -> str:
    # quote_plus per pair: urlencode() does the same with more checks, for hundreds of links.
    return "&".join(f"{_quoted(name)}={_quoted(to_text(value))}" for name, value in pairs)


def row_url(
    table: Table,
    key: Mapping[str, Any],
    base: str = "",
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """Return the row page of `table` for primary key values `key` (`?pk.<column>=<value>`);
    `base` is the page's path when the caller already has it; `extra` are parameters that
    must survive (a restriction's, e.g. the support view's scope)."""
    return row_link(table, base, extra)(key)


def row_link(
    table: Table, base: str = "", extra: Sequence[tuple[str, str]] = ()
) -> Callable[[Mapping[str, Any]], str]:
    """Return a function giving `row_url(table, key, base, extra)` for a key (the path and the
    parameters that survive are encoded once, for a list of many rows)."""
    path = base or data_path("data:row", table.name)
    carried = f"&{_query(extra)}" if extra else ""

    def link(key: Mapping[str, Any]) -> str:
        pairs = [(ROW_PARAM_PREFIX + name, key[name]) for name in key]
        return f"{path}?{_query(pairs)}{carried}"

    return link


def filtered_list_url(table: Table, equal: Sequence[tuple[str, Any]], base: str = "") -> str:
    """Return the list of `table` filtered by column = value for each pair."""
    path = base or data_path("data:list", table.name)
    return f"{path}?{_query([(filter_param('eq', name), value) for name, value in equal])}"


def referred(fk: ForeignKeyConstraint) -> tuple[Table, list[str], list[str]] | None:
    """Return (parent table, local columns, parent columns) of a foreign key, or None when the
    parent is outside the reflected schema."""
    try:
        parent_columns = [element.column for element in fk.elements]
    except sa.exc.NoReferencedTableError:
        return None
    parent = parent_columns[0].table
    if parent.schema != fk.table.schema:
        return None
    return parent, [e.parent.name for e in fk.elements], [c.name for c in parent_columns]


def parent_link(fk: ForeignKeyConstraint) -> Callable[[Mapping[str, Any]], str] | None:
    """Return a function giving the link to the row a foreign key points at ('' for NULLs),
    or None when the parent is outside the reflected schema."""
    found = referred(fk)
    if found is None:
        return None
    parent, local, remote = found
    to_key = sorted(remote) == sorted(c.name for c in parent.primary_key.columns)
    base = data_path("data:row" if to_key else "data:list", parent.name)
    to_row = row_link(parent, base)

    def link(values: Mapping[str, Any]) -> str:
        if any(values.get(name) is None for name in local):
            return ""
        pairs = [(r, values[lc]) for lc, r in zip(local, remote, strict=True)]
        if to_key:
            return to_row(dict(pairs))
        return filtered_list_url(parent, pairs, base)  # a foreign key to a unique column

    return link


def parent_url(fk: ForeignKeyConstraint, values: Mapping[str, Any]) -> str:
    """Return the link to the row a foreign key points at ('' when a value is NULL)."""
    link = parent_link(fk)
    return link(values) if link else ""


def children_of(table: Table, tables: Mapping[str, Table]) -> list[ForeignKeyConstraint]:
    """Return the foreign keys of other tables (or this one) that point at `table`."""
    found = []
    for other_name in sorted(tables):
        for fk in sorted(
            tables[other_name].foreign_key_constraints, key=lambda c: str(c.name or "")
        ):
            target = referred(fk)
            if target is not None and target[0] is table:
                found.append(fk)
    return found
