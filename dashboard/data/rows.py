"""The row page: every column of one row, links to its parents, and its first children.

The row is found by its primary key, given as `?pk.<column>=<value>` for each key column (so
text, uuid and composite keys all work and are URL-encoded like any value); `?pk=<value>` is
accepted for a single-column key. One read transaction fetches the row and, for every foreign
key pointing at its table, the first children; each child list runs in a savepoint with a short
timeout, so a slow child list becomes a notice and the rest of the page still shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg.errors
from django.http import Http404, QueryDict
from sqlalchemy import Connection, ForeignKeyConstraint, Table, select, text
from sqlalchemy.exc import DBAPIError

from dashboard.data.cells import Cell, full_cell, list_cell
from dashboard.data.column_input import PARSED_KINDS, BadValue, parse_value
from dashboard.data.columns import ColumnInfo, describe_columns
from dashboard.data.display import display_for
from dashboard.data.filters import ops_for
from dashboard.data.links import (
    ROW_PARAM_PREFIX,
    children_of,
    filtered_list_url,
    parent_url,
    referred,
    row_url,
)
from dashboard.data.query import BACK_MAX, PARAM_BACK, ListQuery, Restriction
from dashboard.data.services import ListRow, browsable_table
from dashboard.target import run_read

CHILD_ROWS = 10
CHILD_COLUMNS = 6
CHILD_TIMEOUT_MS = 1500


class RowNotFound(Http404):
    """No row has this key, or the key is malformed; the message is the sentence to show."""


@dataclass
class RowField:
    """One column of the row."""

    info: ColumnInfo
    cell: Cell
    parent_url: str = ""


@dataclass
class ChildList:
    """The first rows of a table whose foreign key points at this row."""

    table: str
    via: list[str]
    headers: list[ColumnInfo] = field(default_factory=list)
    rows: list[ListRow] = field(default_factory=list)
    more: bool = False
    list_url: str = ""
    error: str = ""


@dataclass
class RowPage:
    """Everything the row page shows."""

    table: str
    key: dict[str, Any]
    fields: list[RowField]
    children: list[ChildList]
    list_url: str
    banner: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # as read; a masked one is a bool
    origin: str = ""  # the end-user's page when the row is seen in their scope
    origin_label: str = ""

    @property
    def key_label(self) -> str:
        return ", ".join(f"{name} = {value}" for name, value in self.key.items())


def parse_key(table: Table, params: QueryDict) -> dict[str, Any]:
    """Return the primary key values named in `params`, or raise RowNotFound with a sentence."""
    columns = list(table.primary_key.columns)
    if not columns:
        raise RowNotFound(
            f"The table “{table.name}” has no primary key, so its rows cannot be opened one by "
            "one. Browse it with filters instead."
        )
    query = ListQuery(table, QueryDict(), display=display_for(table.name))
    infos = describe_columns(table, set())  # types only: hidden key columns parse too
    if not query.keyset and any(infos[c.name].kind not in PARSED_KINDS for c in columns):
        names = ", ".join(c.name for c in columns)
        raise RowNotFound(
            f"The rows of “{table.name}” are identified by a key ({names}) that a link cannot "
            "carry, so they cannot be opened one by one. Browse the table with filters instead."
        )
    if not query.keyset:
        secret = ", ".join(c.name for c in columns)
        raise RowNotFound(
            f"The rows of “{table.name}” are identified by a secret-looking key ({secret}), "
            "so they cannot be opened one by one. Browse the table with filters instead."
        )
    key: dict[str, Any] = {}
    for column in columns:
        raw = params.get(ROW_PARAM_PREFIX + column.name)
        if raw is None and len(columns) == 1:
            raw = params.get("pk")
        if raw is None:
            names = ", ".join(f"{ROW_PARAM_PREFIX}{c.name}" for c in columns)
            raise RowNotFound(f"Name the row of “{table.name}” by its primary key: {names}.")
        try:
            key[column.name] = parse_value(infos[column.name], raw).value
        except BadValue as exc:
            raise RowNotFound(
                f"“{raw[:80]}” is not a valid {column.name} for “{table.name}”: {exc}"
            ) from None
    return key


def row_page(
    name: str,
    params: QueryDict,
    restriction: Restriction | None = None,
    tables: Mapping[str, Table] | None = None,
) -> RowPage:
    """Return one row of `name` with parent links and first children, or raise RowNotFound.

    With a restriction (the support view's scope) the row must also satisfy its clauses."""
    table, tables = browsable_table(name, tables)
    key = parse_key(table, params)
    restriction = restriction or Restriction()
    query = ListQuery(table, QueryDict(), display=display_for(name), restriction=restriction)
    shown = list(query.infos)
    child_fks = children_of(table, tables)

    def work(conn: Connection) -> tuple[Any, list[ChildList]]:
        statement = select(*(query.export_value(n).label(f"v{i}") for i, n in enumerate(shown)))
        statement = statement.where(*(table.c[n] == v for n, v in key.items()))
        statement = statement.where(*restriction.where)
        row = conn.execute(statement).first()
        if row is None:
            return None, []
        values = {n: row[i] for i, n in enumerate(shown)}
        # Referenced values may be hidden or masked columns: read them apart from the display.
        referenced = _referenced_values(conn, table, key, child_fks, values)
        return row, [_children(conn, fk, referenced, tables) for fk in child_fks]

    row, children = run_read(work)
    if row is None:
        label = ", ".join(f"{n} = {v}" for n, v in key.items())
        if restriction.where:
            raise RowNotFound(
                f"No row of “{name}” with {label} belongs to the end-user in scope "
                "(or it was deleted)."
            )
        raise RowNotFound(f"No row of “{name}” has {label}. It may have been deleted.")
    values = {n: row[i] for i, n in enumerate(shown)}
    parents = _parent_links(table, values, query)
    fields = [
        RowField(query.infos[n], full_cell(query.infos[n], values[n]), parents.get(n, ""))
        for n in shown
    ]
    return RowPage(
        table=name,
        key=key,
        fields=fields,
        children=children,
        list_url=back_to_list(query, params),
        banner=restriction.banner,
        origin=restriction.origin,
        origin_label=restriction.origin_label,
        values=values,
    )


def back_to_list(query: ListQuery, params: QueryDict) -> str:
    """Return the list the row was opened from (`?back=`: its filters, order, scope and page),
    or the table's list in the row's scope. Only a query string is taken: the path is ours."""
    back = params.get(PARAM_BACK, "")[:BACK_MAX]
    if not back or "\x00" in back:
        return query.current_url()
    scope = {name for name, _ in query.restriction.params}
    # The scope of the row page wins: a back link never leaves the end-user in scope.
    items = [
        (name, value)
        for name, values in QueryDict(back.lstrip("?")).lists()
        if name not in scope
        for value in values
    ]
    return query.url([*query.restriction.params, *items])


def _referenced_values(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    fks: list[ForeignKeyConstraint],
    shown: dict[str, Any],
) -> dict[str, Any]:
    needed = {e.column.name for fk in fks for e in fk.elements}
    values = {n: shown[n] for n in needed if n in shown and n not in key}
    values.update(key)
    missing = sorted(needed - set(values))
    if missing:
        statement = select(*(table.c[n] for n in missing)).where(
            *(table.c[n] == v for n, v in key.items())
        )
        row = conn.execute(statement).one()
        values.update(zip(missing, row, strict=True))
    return values


def _parent_links(table: Table, values: dict[str, Any], query: ListQuery) -> dict[str, str]:
    links: dict[str, str] = {}
    for fk in table.foreign_key_constraints:
        local = [e.parent.name for e in fk.elements]
        if any(n not in values or query.infos[n].masked for n in local):
            continue
        url = parent_url(fk, values)
        if url:
            for name in local:
                links.setdefault(name, url)
    return links


def _children(
    conn: Connection,
    fk: ForeignKeyConstraint,
    referenced: dict[str, Any],
    tables: Mapping[str, Table],
) -> ChildList:
    child = fk.table
    found = referred(fk)
    assert found is not None
    _, local, remote = found
    equal = [(lc, referenced[r]) for lc, r in zip(local, remote, strict=True)]
    child_query = ListQuery(child, QueryDict(), display=display_for(child.name))
    section = ChildList(table=child.name, via=local)
    if any(value is None for _, value in equal):
        return section
    filterable = all(
        lc in child_query.infos and "eq" in ops_for(child_query.infos[lc], child) for lc in local
    )
    if filterable:
        section.list_url = filtered_list_url(child, equal)
    # The foreign key's own columns would repeat this row's key on every line: leave them out.
    shown = [n for n in child_query.default_columns if n not in local][:CHILD_COLUMNS]
    section.headers = [child_query.infos[n] for n in shown]
    statement = (
        select(
            *(child_query.preview(n).label(f"v{i}") for i, n in enumerate(shown)),
            *child_query.key_columns(),
        )
        .where(*(child.c[lc] == value for lc, value in equal))
        .order_by(*child_query.order_by())
        .limit(CHILD_ROWS + 1)
    )
    try:
        # A savepoint per child list: a slow one is cancelled alone, and rolling back to the
        # savepoint restores the transaction's timeout.
        with conn.begin_nested():
            conn.execute(
                text("SELECT set_config('statement_timeout', :timeout, true)"),
                {"timeout": f"{CHILD_TIMEOUT_MS}ms"},
            )
            rows = conn.execute(statement).all()
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.errors.QueryCanceled):
            raise
        section.error = (
            f"Reading the rows of “{child.name}” took over {CHILD_TIMEOUT_MS / 1000:g} s "
            f"and was stopped (is {', '.join(local)} indexed?)."
        )
        return section
    section.more = len(rows) > CHILD_ROWS
    for row in rows[:CHILD_ROWS]:
        cells = [list_cell(child_query.infos[n], row[i]) for i, n in enumerate(shown)]
        url, key = "", None
        if child_query.keyset:
            keys = dict(zip(child_query.key_names, row[len(shown) :], strict=True))
            key = {n: keys[n] for n in child_query.primary_key}
            url = row_url(child, key)
        section.rows.append(ListRow(cells=cells, url=url, key=key))
    return section
