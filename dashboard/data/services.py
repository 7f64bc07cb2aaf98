"""The Data section's work: the table picker, a list page, and the row count of a list.

A list page costs one read transaction with a single statement (the rows, their keys and the
table's estimate); with the reflection cached, that is three statements on the target in all
(the gateway's two settings plus the page). The exact count is a separate, lazily loaded
request (`list_count`) so the list never waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg.errors
from django.conf import settings
from django.http import QueryDict
from django.utils.safestring import SafeString
from sqlalchemy import (
    ClauseElement,
    Connection,
    Executable,
    Select,
    Table,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles

from dashboard.data.cells import Cell, list_cell, row_html, row_parts
from dashboard.data.columns import ColumnInfo
from dashboard.data.display import display_for
from dashboard.data.filters import invalid_filters
from dashboard.data.links import data_path, parent_link, row_link
from dashboard.data.query import PAGE_SIZES, ListQuery, Restriction, quoted_name
from dashboard.html_parts import HtmlBuilder, html_format, html_join, html_text
from dashboard.paging import PageWindow, page_window
from dashboard.schema.reflection import UnknownTable, reflection
from dashboard.target import TargetError, TargetUnavailable, run_read, target_schema

SMALL_TABLE_BYTES = 8 * 1024 * 1024  # counting a table this small is always quick
INDEX_PAGE_SIZE = 100  # tables a page of the picker shows
ROW_OPEN, ROW_CLOSE = SafeString("<tr>"), SafeString("</tr>\n")
OPEN_ROW_LINK = '<tr><td class="open-col key"><a href="{}">open</a></td>'
CHECKED = {True: SafeString(" checked"), False: SafeString("")}
NO_TEXT_COLUMNS = SafeString('<p class="muted">No text columns.</p>')

# One page of the table picker, filtered by name: sizes are read for the page's tables only.
TABLES_SQL = text(
    """
    WITH matching AS (
        SELECT c.oid, c.relname, c.relkind, c.reltuples, c.relpages
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = to_regnamespace(:schema)
          AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND strpos(lower(c.relname), lower(:search)) > 0
    ),
    shown AS (
        SELECT *
        FROM matching
        ORDER BY relname
        LIMIT :limit OFFSET :offset
    )
    SELECT
        s.relname AS name,
        CASE
            WHEN s.reltuples < 0 THEN NULL
            WHEN s.relpages = 0 THEN s.reltuples::bigint
            ELSE round(s.reltuples / s.relpages
                       * (pg_relation_size(s.oid) / current_setting('block_size')::int))::bigint
        END AS estimate,
        pg_total_relation_size(s.oid) AS total_bytes,
        s.relkind = 'p' AS partitioned,
        obj_description(s.oid, 'pg_class') AS comment
    FROM shown AS s
    ORDER BY s.relname
    """
)

MATCHING_TABLES_SQL = text(
    """
    SELECT count(*)
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = to_regnamespace(:schema)
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
      AND strpos(lower(c.relname), lower(:search)) > 0
    """
)

TABLE_ESTIMATE_SQL = text(
    """
    SELECT
        CASE
            WHEN c.reltuples < 0 THEN NULL
            WHEN c.relpages = 0 THEN c.reltuples::bigint
            ELSE round(c.reltuples / c.relpages
                       * (pg_relation_size(c.oid) / current_setting('block_size')::int))::bigint
        END AS estimate,
        pg_relation_size(c.oid) AS bytes
    FROM pg_catalog.pg_class AS c
    WHERE c.oid = CAST(:relation AS regclass)
    """
)


def browsable_table(
    name: str, tables: Mapping[str, Table] | None = None
) -> tuple[Table, Mapping[str, Table]]:
    """Return the reflected table `name` and all tables (one reflection call), or a 404.

    `tables` are the tables of a reflection the caller already holds (the reason gate's)."""
    tables = reflection().tables if tables is None else tables
    table = tables.get(name)
    if table is None:
        raise UnknownTable(f"There is no table called “{name}” in schema “{target_schema()}”.")
    return table, tables


# -- the table picker --------------------------------------------------------------------------
@dataclass
class TableSummary:
    """One line of the table picker."""

    name: str
    estimate: int | None
    total_bytes: int
    columns: int
    primary_key: list[str]
    comment: str
    partitioned: bool


@dataclass
class TableIndex:
    """One page of the table picker."""

    tables: list[TableSummary]
    window: PageWindow


def table_index(search: str = "", page: int = 1, *, page_size: int = INDEX_PAGE_SIZE) -> TableIndex:
    """Return page `page` of the target schema's tables whose name contains `search`."""
    tables = reflection().tables
    needle = search.strip()

    def read(conn: Connection) -> tuple[int, list[Any]]:
        params = {"schema": target_schema(), "search": needle}
        matched = int(conn.execute(MATCHING_TABLES_SQL, params).scalar_one())
        window = page_window(page, page_size, matched)
        shown = {"limit": page_size, "offset": window.offset}
        return matched, list(conn.execute(TABLES_SQL, {**params, **shown}))

    matched, rows = run_read(read)
    found = [
        TableSummary(
            name=row.name,
            estimate=row.estimate,
            total_bytes=row.total_bytes,
            columns=len(table.columns),
            primary_key=[c.name for c in table.primary_key.columns],
            comment=row.comment or "",
            partitioned=row.partitioned,
        )
        for row in rows
        if (table := tables.get(row.name)) is not None  # made after the reflection: next time
    ]
    return TableIndex(found, page_window(page, page_size, matched))


# -- a list page -------------------------------------------------------------------------------
@dataclass
class ColumnHeader:
    """A column heading: its description and the link that sorts by it."""

    info: ColumnInfo
    sort_url: str = ""
    sorted: str = ""  # "asc", "desc" or ""


@dataclass
class ListRow:
    """One row of a list: its cells, their HTML, the link to its row page and its primary key
    (None when the key is secret-looking, or there is none)."""

    cells: list[Cell]
    url: str = ""
    key: dict[str, Any] | None = None

    @property
    def html(self) -> SafeString:
        return row_html(self.cells)


@dataclass
class ListPage:
    """Everything a list page shows."""

    query: ListQuery
    headers: list[ColumnHeader]
    rows: list[ListRow] = field(default_factory=list)
    has_next: bool = False
    has_prev: bool = False
    next_url: str = ""
    prev_url: str = ""
    first_url: str = ""
    estimate: int | None = None
    exact_count: int | None = None
    error: str = ""
    page_number: int | None = None
    start: int | None = None  # where this page starts in the list (0-based), when known
    key_cell: int | None = None  # which cell links to the row page (None: a leading link)
    chips: list[tuple[str, str]] = field(default_factory=list)  # active filter, link without it
    sizes: list[tuple[int, str, bool]] = field(default_factory=list)  # rows per page links

    @property
    def offset_paging(self) -> bool:
        return not self.query.keyset

    @cached_property  # the template asks it several times
    def invalid_filters(self) -> list[str]:
        """Return a sentence per filter (or search) that could not be applied: no rows are
        shown then, as the list without it would hold more rows than were asked for."""
        refused = [self.query.search_refused] if self.query.search_refused else []
        return invalid_filters(self.query.filters) + refused

    @property
    def first_row(self) -> int | None:
        """Return the position of the first row shown (1-based), when known."""
        return None if self.start is None or not self.rows else self.start + 1

    @property
    def last_row(self) -> int | None:
        return None if self.start is None or not self.rows else self.start + len(self.rows)

    @property
    def whole_list(self) -> bool:
        """Return True when this page shows the whole list (no page before or after)."""
        return not self.has_prev and not self.has_next

    @property
    def leading_link(self) -> bool:
        """Return True when rows need an "open" link of their own (no key column is shown)."""
        return self.key_cell is None and self.query.keyset

    @property
    def rows_html(self) -> SafeString:
        """Return the <tr> elements of the page (escaped cell by cell, see cells.row_parts),
        joined once for the whole page."""
        builder = HtmlBuilder()
        leading = self.leading_link
        for row in self.rows:
            builder.markup(html_format(OPEN_ROW_LINK, row.url) if leading else ROW_OPEN)
            row_parts(row.cells, builder)
            builder.markup(ROW_CLOSE)
        return builder.html()

    @property
    def headers_html(self) -> SafeString:
        """Return the <th> elements of the list (built here: a template loop over the columns
        was a third of the page's rendering)."""
        return html_join(
            _header_html(header, index == self.key_cell)
            for index, header in enumerate(self.headers)
        )

    @property
    def search_in_html(self) -> SafeString:
        """Return the "Search in" checkboxes: one per text column."""
        infos = self.query.infos
        if not infos:
            return NO_TEXT_COLUMNS
        chosen = set(self.query.search_in)
        return html_join(
            html_format(
                '<label class="check"><input type="checkbox" name="in" value="{}"{}> '
                '<span class="mono">{}</span></label>',
                name,
                CHECKED[name in chosen],
                name,
            )
            for name, info in infos.items()
            if info.searchable
        )

    @property
    def columns_menu_html(self) -> SafeString:
        """Return the "Columns" checkboxes: one per column, the shown ones checked."""
        shown = set(self.query.shown)
        return html_join(
            html_format(
                '<label class="check"><input type="checkbox" name="c" value="{}"{}> '
                '<span class="mono">{}</span> <span class="type">{}</span></label>',
                name,
                CHECKED[name in shown],
                name,
                info.type_label,
            )
            for name, info in self.query.infos.items()
        )

    @property
    def small(self) -> bool:
        """Return True when the table is small enough for page numbers (by its estimate)."""
        return self.estimate is not None and 0 <= self.estimate <= self.query.offset_limit


ARROWS = {
    "asc": SafeString(' <span class="arrow" aria-hidden="true">▲</span>'),
    "desc": SafeString(' <span class="arrow" aria-hidden="true">▼</span>'),
    "": SafeString(""),
}
ARIA_SORT = {
    "asc": SafeString(' aria-sort="ascending"'),
    "desc": SafeString(' aria-sort="descending"'),
    "": SafeString(""),
}


def _header_html(header: ColumnHeader, key: bool) -> SafeString:
    """Return one column heading: its name (a link sorting by it), and its type."""
    info = header.info
    classes = " ".join(
        word
        for word, wanted in (("num", info.numeric), ("sorted", header.sorted), ("key", key))
        if wanted
    )
    if header.sort_url:
        label = html_format(
            '<a href="{}" hx-get="{}" title="Sort by {}" data-focus-key="sort {}">{}{}</a>',
            header.sort_url,
            header.sort_url,
            info.name,
            info.name,
            info.name,
            ARROWS[header.sorted],
        )
    else:
        label = html_text(info.name)
    return html_format(
        '<th class="{}" scope="col" data-column="{}"{}>{} <span class="type">{}</span></th>',
        classes,
        info.name,
        ARIA_SORT[header.sorted],
        label,
        info.type_label,
    )


def list_page(
    name: str,
    params: QueryDict,
    restriction: Restriction | None = None,
    tables: Mapping[str, Table] | None = None,
) -> ListPage:
    """Return one page of a table's list: rows, links, and what is known of the count."""
    table, _ = browsable_table(name, tables)
    query = ListQuery(
        table, params, display=display_for(name), restriction=restriction or Restriction()
    )
    page = ListPage(query=query, headers=_headers(query))
    page.first_url = query.current_url()
    page.chips = [
        (item.label, query.without_filter_url(item.param)) for item in query.filters.active
    ]
    if query.search:
        page.chips.append((f"search “{query.search}”", query.url(query.state(search=False))))
    page.sizes = [(size, query.size_url(size), size == query.page_size) for size in PAGE_SIZES]
    if page.invalid_filters:  # never widen the list silently: show nothing until it is fixed
        return page
    try:
        rows = run_read(lambda conn: conn.execute(query.page_statement()).all())
    except TargetUnavailable:
        raise
    except TargetError as exc:  # a timeout: a notice in the list, the rest of the page renders
        page.error = exc.sentence
        return page
    _fill(page, rows, table)
    return page


def _headers(query: ListQuery) -> list[ColumnHeader]:
    headers = []
    for info in query.shown_infos:
        header = ColumnHeader(info=info)
        if info.sortable:
            header.sort_url = query.sort_url(info.name)
            if query.order.column == info.name:
                header.sorted = "desc" if query.order.descending else "asc"
        headers.append(header)
    return headers


def _fill(page: ListPage, rows: Sequence[Any], table: Table) -> None:
    query = page.query
    size = query.page_size
    position = query.position
    reverse = position.cursor is not None and position.cursor.direction == "prev"
    more = len(rows) > size
    if rows:
        page.estimate = rows[0].estimate if rows[0].estimate >= 0 else None
    rows = list(rows[:size])
    if reverse:
        rows.reverse()
    key_count = len(query.key_names)
    keys_of = [tuple(row[len(query.shown) + i] for i in range(key_count)) for row in rows]

    page.start = position.start(size)
    if page.start is not None and reverse and not more:
        page.start = 0  # the page before reached the top of the list
    if position.cursor is None:
        page.has_prev = position.page > 1
        page.has_next = more
        if position.first and not more:
            page.exact_count = len(rows)
    elif reverse:
        page.has_next = True
        page.has_prev = more
    else:
        page.has_prev = True
        page.has_next = more
    if not query.keyset:
        page.page_number = position.page
        if page.has_next and position.page >= query.max_page:
            page.has_next = False  # OFFSET paging stops at DATA_OFFSET_MAX_ROWS
        if page.has_next:
            page.next_url = query.page_url(position.page + 1)
        if page.has_prev:
            page.prev_url = query.page_url(position.page - 1)
    else:
        if position.cursor is None and position.page > 1:
            page.page_number = position.page
        elif page.start is not None:
            page.page_number = page.start // size + 1
        after = None if page.start is None else page.start + len(rows)
        before = None if page.start is None else max(0, page.start - size)
        if page.has_next and keys_of:
            page.next_url = query.next_url(keys_of[-1], after)
        if page.has_prev and keys_of:
            page.prev_url = query.prev_url(keys_of[0], before)
        elif position.page > 1:
            page.prev_url = query.page_url(position.page - 1)

    page.key_cell = next(
        (i for i, info in enumerate(query.shown_infos) if info.primary_key and not info.masked),
        None,
    )
    fks = _single_column_parents(table, query)
    # Per shown column: how its cells are made and the link to a parent row, if any.
    columns = [(info, fks.get(info.name)) for info in query.shown_infos]
    to_row = row_link(
        table,
        data_path("data:row", table.name),
        (*query.restriction.params, query.back_pair()),
    )
    key_names, primary_key, key_cell = query.key_names, query.primary_key, page.key_cell
    for row, keys in zip(rows, keys_of, strict=True):
        cells = []
        for (info, link), value in zip(columns, row, strict=False):
            cell = list_cell(info, value)
            if link is not None and value is not None:
                cell.href = link({info.name: value})
            cells.append(cell)
        url, key = "", None
        if query.keyset:
            by_name = dict(zip(key_names, keys, strict=True))
            key = {n: by_name[n] for n in primary_key}
            url = to_row(key)
            if key_cell is not None:
                cells[key_cell].href = url  # the key links to its row, like admin
                cells[key_cell].key = True
        page.rows.append(ListRow(cells=cells, url=url, key=key))


def _single_column_parents(table: Table, query: ListQuery) -> dict[str, Any]:
    """Return, per shown single-column foreign key, the function linking to its parent."""
    links = {}
    for fk in table.foreign_key_constraints:
        name = fk.elements[0].parent.name
        if len(fk.elements) == 1 and name in query.shown and not query.infos[name].masked:
            link = parent_link(fk)
            if link is not None:
                links[name] = link
    return links


# -- counting ----------------------------------------------------------------------------------
@dataclass
class RowCount:
    """How many rows a list has: exact when cheap, otherwise an honest estimate."""

    exact: int | None = None
    about: int | None = None
    how: str = ""


class Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a statement, with its values bound like the statement's."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def planned_rows(conn: Connection, statement: Any) -> int:
    """Return the planner's row estimate for `statement` (EXPLAIN, nothing runs)."""
    plan = conn.execute(Explain(statement)).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def list_count(
    name: str,
    params: QueryDict,
    restriction: Restriction | None = None,
    tables: Mapping[str, Table] | None = None,
) -> RowCount:
    """Return the row count of a (filtered) list without ever running a long COUNT(*)."""
    table, _ = browsable_table(name, tables)
    query = ListQuery(
        table, params, display=display_for(name), restriction=restriction or Restriction()
    )
    exact_max = int(getattr(settings, "DATA_EXACT_COUNT_MAX", 100_000))
    attempt_ms = int(getattr(settings, "DATA_COUNT_TIMEOUT_MS", 200))

    def work(conn: Connection) -> RowCount:
        facts = conn.execute(TABLE_ESTIMATE_SQL, {"relation": quoted_name(table)}).one()
        estimate, size = facts.estimate, facts.bytes
        if (estimate is not None and estimate <= exact_max) or size <= SMALL_TABLE_BYTES:
            return RowCount(exact=conn.execute(query.count_statement()).scalar_one())
        if not query.filtered:
            how = "planner estimate" if estimate is not None else "not analyzed yet"
            return RowCount(about=estimate, how=how)
        matching: Select[Any] = (
            select(literal_column("1")).select_from(table).where(*query.where_clauses())
        )
        planned = planned_rows(conn, matching)
        if planned > exact_max * 10:
            return RowCount(about=planned, how="planner estimate")
        try:
            # A savepoint keeps the transaction usable if the count is cancelled, and rolling
            # back to it also restores the statement timeout.
            with conn.begin_nested():
                conn.execute(
                    text("SELECT set_config('statement_timeout', :timeout, true)"),
                    {"timeout": f"{attempt_ms}ms"},
                )
                counted = conn.execute(query.count_statement()).scalar_one()
        except DBAPIError as exc:
            if not isinstance(exc.orig, psycopg.errors.QueryCanceled):
                raise
            return RowCount(
                about=planned, how=f"planner estimate; counting took over {attempt_ms} ms"
            )
        return RowCount(exact=counted)

    try:
        return run_read(work)
    except TargetUnavailable:
        raise
    except TargetError as exc:  # the count is a detail of the page: say why it is missing
        return RowCount(how=exc.sentence)
