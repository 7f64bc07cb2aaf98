"""The query object of a list page, like Django admin's ChangeList, built for big tables.

A `ListQuery` reads the named query parameters of one list page, builds the SQLAlchemy Core
statement (identifiers only from the reflected table, values always bound), and builds every
link of the page, so columns, filters, search and sort survive paging and sorting.

Query parameters (all optional):

    c=<column>           the columns shown, repeated, in order (default: display settings, or
                         the first visible columns)
    o=<column>|-<column> the sort order; "-" is descending (default: display settings, or the
                         primary key). NULLs always sort last.
    f.<op>.<column>=...  typed filters (see filters.py)
    q=<text>             search: ILIKE '%text%' over the search columns
    in=<column>          the search columns, repeated (default: display settings, or every
                         visible text column)
    n=<rows>             rows per page (25, 50, 100 or 200)
    cursor=<token>       keyset position: a signed token (see cursor.py)
    page=<n>             page number by OFFSET, only within the first DATA_OFFSET_MAX_ROWS rows

Paging is keyset paging on (sort column, primary key): a page reads `n + 1` rows after (or
before) the key of the last (first) row of the previous page, so page 100,000 costs what page 1
costs. Tables without a primary key are paged by OFFSET, bounded, with a notice.

Extension point, e.g. for a "scope" restricting a list to one end-user's rows through a foreign
key path: pass a `Restriction` when building the query.

    Restriction(
        where=(tasks.c.user_id == "user_42",),   # extra WHERE clauses on the reflected table
        params=(("scope", "user_42"),),          # extra query parameters every link keeps
        banner="Only the rows of end-user user_42",  # shown above the list
        origin="/users/u/user_42/", origin_label="user_42",  # breadcrumb and link back
    )

Its clauses are ANDed with the filters and search in every statement (page, count, export);
its parameters are put first in every link and in the filter form's hidden fields; the caller
(the view) is responsible for parsing its own parameter back into a Restriction.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.http import QueryDict
from django.utils.http import urlencode
from sqlalchemy import (
    TEXT,
    Select,
    Table,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement

from dashboard.data.cells import PREVIEW_CHARS
from dashboard.data.column_input import PARSED_KINDS
from dashboard.data.columns import ColumnInfo, column_kind, describe_columns
from dashboard.data.cursor import BadCursor, Cursor, encode_cursor
from dashboard.data.cursor import decode_cursor as _decode_cursor
from dashboard.data.display import DEFAULT, TableDisplay
from dashboard.data.filters import FilterSet, parse_filters
from dashboard.data.links import data_path
from dashboard.data.masking import masked_columns
from dashboard.data.query_statements import (
    SortOrder,
    estimate_expression,
    quoted_name,
)
from dashboard.params import BadParameter, integer
from dashboard.params import text as plain_text
from dashboard.schema.reflection import column_named

__all__ = [
    "PAGE_SIZES",
    "ListQuery",
    "Position",
    "Restriction",
    "SortOrder",
    "estimate_expression",  # re-exported
    "quoted_name",  # re-exported
]

PARAM_COLUMNS = "c"
PARAM_ORDER = "o"
PARAM_SEARCH = "q"
PARAM_SEARCH_IN = "in"
PARAM_SIZE = "n"
PARAM_CURSOR = "cursor"
PARAM_PAGE = "page"
PARAM_BACK = "back"  # on a row page: the list it was opened from (its query string)
BACK_MAX = 2000
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_COLUMN_LIMIT = 12  # columns shown by default when the display settings name none
DEFAULT_WIDTH_BUDGET = 190  # characters of a wide screen's list: default columns fit in it
SEARCH_MAX = 200
STATEMENTS = "schemadesk.list_statements"  # key of `Table.info`: page statements made
STATEMENTS_KEPT = 256  # per table
STATEMENTS_KEPT_IN_ALL = 2048  # over every table (a statement is ~16 KB)


class _Statements:
    """The page statements made for one table, by list shape (weak references point at it)."""

    __slots__ = ("__weakref__", "by_shape")

    def __init__(self) -> None:
        self.by_shape: dict[object, Select[Any]] = {}


# Every table's statements, so that their total is bounded too: with a per-table bound only,
# an operator requesting many list shapes of each of a thousand tables kept gigabytes.
_ALL_STATEMENTS: weakref.WeakSet[_Statements] = weakref.WeakSet()


@dataclass(frozen=True)
class Restriction:
    """Extra WHERE clauses and link parameters imposed by the caller (see the module doc)."""

    where: tuple[ColumnElement[bool], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    banner: str = ""
    origin: str = ""  # the page the restriction comes from (the end-user's), for breadcrumbs
    origin_label: str = ""


@dataclass
class Position:
    """Where the page starts: the first page, a keyset cursor, or a page number (OFFSET)."""

    cursor: Cursor | None = None
    page: int = 1

    @property
    def first(self) -> bool:
        return self.cursor is None and self.page == 1

    def start(self, page_size: int) -> int | None:
        """Return where this page starts in the list (0-based), or None when unknown."""
        if self.cursor is not None:
            return self.cursor.start
        return (self.page - 1) * page_size


@dataclass
class ListQuery:
    """The parsed state of one list page and everything built from it (see the module doc)."""

    table: Table
    params: QueryDict
    display: TableDisplay = DEFAULT
    restriction: Restriction = field(default_factory=Restriction)
    notices: list[str] = field(default_factory=list)
    search_refused: str = ""  # why the search given was not used (it would match other rows)
    width_budget: int = DEFAULT_WIDTH_BUDGET

    def __post_init__(self) -> None:
        hidden = set(self.display.hidden_columns)
        self.visible = [c.name for c in self.table.columns if c.name not in hidden]
        everything = describe_columns(
            self.table,
            masked_columns(self.table.c.keys(), self.display.unmasked_columns),
        )
        self.infos: dict[str, ColumnInfo] = {
            name: info for name, info in everything.items() if name not in hidden
        }
        self.primary_key = [c.name for c in self.table.primary_key.columns]
        # Keys travel in links and cursors (signed, not encrypted): a secret-looking key
        # column makes the table key-less for browsing, and so does a key of a type a row link
        # cannot carry and the row page read back (inet, jsonb, arrays, intervals, bytes).
        self.keyset = bool(self.primary_key) and all(
            not everything[name].masked and everything[name].kind in PARSED_KINDS
            for name in self.primary_key
        )
        self.page_size = self._parse_size()
        self.default_columns = self._default_columns()
        self.shown, self.columns_given = self._parse_columns()
        self.default_order = self._default_order()
        self.order = self._parse_order()
        self.key_names = self._key_names()
        self.filters: FilterSet = parse_filters(self.params, self.infos, self.table)
        self.default_search_in = self._default_search_in()
        self.search, self.search_in = self._parse_search()
        self.position = self._parse_position()

    # -- parsing ---------------------------------------------------------------------------
    def _parse_size(self) -> int:
        default = int(getattr(settings, "DATA_PAGE_SIZE", 50))
        raw = self.params.get(PARAM_SIZE, "")
        if not raw.strip():
            return default
        try:
            size: int | None = integer(raw, PARAM_SIZE)
        except BadParameter:
            size = None
        if size in PAGE_SIZES:
            return size
        sizes = ", ".join(str(s) for s in PAGE_SIZES)
        self.notices.append(f"Rows per page must be one of {sizes}; showing {default}.")
        return default

    def _default_columns(self) -> list[str]:
        configured = [n for n in self.display.list_columns if n in self.infos]
        if configured:
            return configured
        keys = [n for n in self.primary_key if n in self.infos]
        chosen = list(keys)
        used = sum(self.infos[n].width for n in keys)
        # The others in table order, each if it still fits: a wide one is left to the chooser.
        for name, info in self.infos.items():
            if name in chosen or len(chosen) >= DEFAULT_COLUMN_LIMIT:
                continue
            if used + info.width <= self.width_budget or len(chosen) == len(keys):
                chosen.append(name)  # (the first non-key column is shown however wide)
                used += info.width
        return chosen

    def _parse_columns(self) -> tuple[list[str], bool]:
        wanted = [n for n in self.params.getlist(PARAM_COLUMNS) if n]
        if not wanted:
            return list(self.default_columns), False
        shown: list[str] = []
        for name in wanted:
            column_named(self.table, name)  # 404 with a sentence for a column that is not there
            if name not in self.infos:
                self.notices.append(f"The column “{name}” is hidden by the display settings.")
            elif name not in shown:
                shown.append(name)
        return (shown, True) if shown else (list(self.default_columns), False)

    def _default_order(self) -> SortOrder:
        name = self.display.order_column
        if name and name in self.infos and self.infos[name].sortable:
            return SortOrder(name, self.display.order_descending)
        if self.keyset:
            return SortOrder(self.primary_key[0])
        return SortOrder(None)

    def _parse_order(self) -> SortOrder:
        raw = self.params.get(PARAM_ORDER, "")
        if not raw:
            return self.default_order
        name = raw.removeprefix("-")
        column_named(self.table, name)
        info = self.infos.get(name)
        if info is None or not info.sortable:
            why = (
                "is hidden"
                if info is None
                else "is masked"
                if info.masked
                else f"holds {info.type_label} values"
            )
            self.notices.append(f"The list cannot be sorted by “{name}”: it {why}.")
            return self.default_order
        return SortOrder(name, raw.startswith("-"))

    def _key_names(self) -> list[str]:
        if not self.keyset or self.order.column is None:
            return []
        return [self.order.column, *(n for n in self.primary_key if n != self.order.column)]

    def _default_search_in(self) -> list[str]:
        configured = [
            n for n in self.display.search_columns if n in self.infos and self.infos[n].searchable
        ]
        return configured or [n for n, info in self.infos.items() if info.searchable]

    def _parse_search(self) -> tuple[str, list[str]]:
        try:
            text = plain_text(
                self.params.get(PARAM_SEARCH, "").strip(), PARAM_SEARCH, max_length=SEARCH_MAX
            )
        except BadParameter:
            self.search_refused = f"The search must be at most {SEARCH_MAX} plain characters."
            self.notices.append(self.search_refused)
            text = ""
        wanted = [n for n in self.params.getlist(PARAM_SEARCH_IN) if n]
        if not wanted:
            return text, list(self.default_search_in)
        chosen: list[str] = []
        for name in wanted:
            column_named(self.table, name)
            info = self.infos.get(name)
            if info is None or not info.searchable:
                self.notices.append(f"The search cannot look into “{name}”: it is not text.")
            elif name not in chosen:
                chosen.append(name)
        return text, chosen or list(self.default_search_in)

    def _parse_position(self) -> Position:
        token = self.params.get(PARAM_CURSOR, "")
        raw_page = self.params.get(PARAM_PAGE, "")
        if token:
            if not self.key_names:
                self.notices.append(
                    "This table has no primary key, so it is paged by page number; "
                    "showing the first page."
                )
                return Position()
            try:
                return Position(cursor=self.decode_cursor(token))
            except BadCursor as exc:
                self.notices.append(str(exc))
                return Position()
        if raw_page:
            try:
                page = integer(raw_page, PARAM_PAGE, minimum=1, maximum=None)
            except BadParameter:
                self.notices.append(
                    f"“{raw_page[:40]}” is not a page number: pages are numbered from 1. "
                    "Showing the first page."
                )
                return Position()
            if page > self.max_page:
                self.notices.append(
                    f"Page {page:,} is too deep to jump to: page numbers reach the first "
                    f"{self.offset_limit:,} rows (page {self.max_page:,}). Use Next, or filter "
                    "the list. Showing the first page."
                )
                return Position()
            return Position(page=page)
        return Position()

    # -- facts -----------------------------------------------------------------------------
    @property
    def offset_limit(self) -> int:
        """Return how many rows deep OFFSET paging may go."""
        return int(getattr(settings, "DATA_OFFSET_MAX_ROWS", 10_000))

    @property
    def max_page(self) -> int:
        return max(1, math.ceil(self.offset_limit / self.page_size))

    @property
    def filtered(self) -> bool:
        """Return True when something narrows the list (filters, search or a restriction)."""
        return bool(self.filters.active or self.search or self.restriction.where)

    @property
    def shown_infos(self) -> list[ColumnInfo]:
        return [self.infos[n] for n in self.shown]

    def position_param(self) -> tuple[str, str] | None:
        """Return the parameter of this page's position (cursor or page number), if any."""
        token = self.params.get(PARAM_CURSOR, "")
        if self.position.cursor is not None and token:
            return (PARAM_CURSOR, token)
        if self.position.cursor is None and self.position.page > 1:
            return (PARAM_PAGE, str(self.position.page))
        return None

    def decode_cursor(self, token: str) -> Cursor:
        kinds = [column_kind(self.table.c[name]) for name in self.key_names]
        return _decode_cursor(
            token, self.table.name, self.order.token, len(self.key_names), kinds=kinds
        )

    def cursor_for(
        self, keys: Sequence[Any], direction: Literal["next", "prev"], start: int | None = None
    ) -> str:
        """Return the signed cursor for the page after/before the row with these key values;
        `start` is where that page starts (0-based), when known."""
        return encode_cursor(self.table.name, self.order.token, direction, keys, start)

    # -- SQL -------------------------------------------------------------------------------
    def where_clauses(self) -> list[ColumnElement[bool]]:
        """Return the restriction, filter and search clauses (ANDed by the caller)."""
        clauses = [*self.restriction.where, *self.filters.clauses(self.table)]
        if self.search and self.search_in:
            clauses.append(
                or_(
                    *(
                        self.table.c[n].icontains(self.search, autoescape=True)
                        for n in self.search_in
                    )
                )
            )
        return clauses

    def preview(self, name: str) -> ColumnElement[Any]:
        """Return what a list cell needs of a column: never a secret, never a huge value."""
        col = self.table.c[name]
        info = self.infos[name]
        if info.masked or info.kind == "bytes":
            return self.export_value(name)
        if info.primary_key or info.foreign_table:
            return col  # links need the whole value
        if info.kind == "text":
            return func.left(col, PREVIEW_CHARS + 1)
        if info.kind in ("json", "array", "other"):
            return func.left(cast(col, TEXT), PREVIEW_CHARS + 1)
        return col

    def export_value(self, name: str) -> ColumnElement[Any]:
        """Return what an export cell needs of a column: the value, never a secret."""
        col = self.table.c[name]
        info = self.infos[name]
        if info.masked:
            return col.is_(None)
        if info.kind == "bytes":
            return func.octet_length(col)
        return col

    def _sort_nullable(self) -> bool:
        # The table's column, not `infos`: a primary key hidden by the display settings still
        # orders the list (and pages it) without being described among the shown columns.
        return bool(self.key_names) and bool(self.table.c[self.key_names[0]].nullable)

    def order_by(self, reverse: bool = False) -> list[ColumnElement[Any]]:
        """Return ORDER BY for the keyset (NULLs last; `reverse` reads the order backwards)."""
        if not self.key_names:
            if self.order.column is None:
                return []
            col = self.table.c[self.order.column]
            return [col.desc().nulls_last() if self.order.descending else col.asc().nulls_last()]
        descending = self.order.descending != reverse
        clauses: list[ColumnElement[Any]] = []
        for index, name in enumerate(self.key_names):
            col = self.table.c[name]
            clause = col.desc() if descending else col.asc()
            # Only a nullable sort column needs NULLS LAST; leaving it off otherwise keeps a
            # plain index usable in both directions.
            if index == 0 and self._sort_nullable():
                clause = clause.nulls_first() if reverse else clause.nulls_last()
            clauses.append(clause)
        return clauses

    def beyond(self, keys: Sequence[Any], reverse: bool = False) -> ColumnElement[bool]:
        """Return the clause selecting rows after `keys` in the read direction (NULL-safe)."""
        descending = self.order.descending != reverse
        cols = [self.table.c[n] for n in self.key_names]
        binds = [literal(value, type_=col.type) for value, col in zip(keys, cols, strict=True)]

        def past(cs: list[Any], bs: list[Any]) -> ColumnElement[bool]:
            left = cs[0] if len(cs) == 1 else tuple_(*cs)
            right = bs[0] if len(bs) == 1 else tuple_(*bs)
            return left < right if descending else left > right

        if not self._sort_nullable():
            return past(cols, binds)
        sort = cols[0]
        if not reverse:  # NULLs come after every value
            if keys[0] is None:
                return and_(sort.is_(None), past(cols[1:], binds[1:]))
            return or_(past(cols, binds), sort.is_(None))
        if keys[0] is None:  # reading backwards from a NULL: all values, then earlier NULLs
            return or_(sort.is_not(None), and_(sort.is_(None), past(cols[1:], binds[1:])))
        return and_(sort.is_not(None), past(cols, binds))

    def key_columns(self) -> list[ColumnElement[Any]]:
        return [self.table.c[n].label(f"k{i}") for i, n in enumerate(self.key_names)]

    def page_statement(self) -> Select[Any]:
        """Return the one statement of a list page: n + 1 rows, their keys, the estimate.

        The statement of a list with nothing narrowing it and no cursor (a first page, or a
        page number) holds no value of the request: it is made once per reflected table and
        list shape and reused, which spares SQLAlchemy building it and working out its cache
        key at every view (a third of the statement's cost on a list's first page)."""
        if self.filtered or self.position.cursor is not None:
            return self._page_statement()
        shape = (
            "page",
            self.display,
            tuple(self.shown),
            self.order,
            self.page_size,
            self.position.page,
        )
        kept: _Statements | None = self.table.info.get(STATEMENTS)
        if kept is None:
            kept = self.table.info[STATEMENTS] = _Statements()
            _ALL_STATEMENTS.add(kept)
        made = kept.by_shape
        statement = made.get(shape)
        if statement is None:
            if len(made) >= STATEMENTS_KEPT:
                made.clear()  # many shapes of one table: start over rather than grow
            elif sum(len(other.by_shape) for other in list(_ALL_STATEMENTS)) >= (
                STATEMENTS_KEPT_IN_ALL
            ):
                for other in list(_ALL_STATEMENTS):  # many shapes of many tables: the same
                    other.by_shape.clear()
            statement = made[shape] = self._page_statement()
        return statement

    def _page_statement(self) -> Select[Any]:
        values = [self.preview(n).label(f"v{i}") for i, n in enumerate(self.shown)]
        statement = select(
            *values, *self.key_columns(), estimate_expression(self.table).label("estimate")
        )
        statement = statement.where(*self.where_clauses())
        cursor = self.position.cursor
        reverse = cursor is not None and cursor.direction == "prev"
        if cursor is not None:
            statement = statement.where(self.beyond(cursor.values, reverse))
        statement = statement.order_by(*self.order_by(reverse))
        if self.position.page > 1:
            statement = statement.offset((self.position.page - 1) * self.page_size)
        return statement.limit(self.page_size + 1)

    def count_statement(self) -> Select[Any]:
        """Return SELECT count(*) of the filtered list."""
        return select(func.count()).select_from(self.table).where(*self.where_clauses())

    def export_statement(
        self, after: Sequence[Any] | None, limit: int, offset: int = 0
    ) -> Select[Any]:
        """Return one batch of the export: shown columns in full, keyset after `after`."""
        values = [self.export_value(n).label(f"v{i}") for i, n in enumerate(self.shown)]
        statement = select(*values, *self.key_columns()).where(*self.where_clauses())
        if after is not None:
            statement = statement.where(self.beyond(after))
        statement = statement.order_by(*self.order_by())
        if offset:
            statement = statement.offset(offset)
        return statement.limit(limit)

    # -- links -----------------------------------------------------------------------------

    @property
    def list_path(self) -> str:
        return data_path("data:list", self.table.name)

    def state(
        self,
        *,
        order: SortOrder | None = None,
        drop: Sequence[str] = (),
        filters: bool = True,
        search: bool = True,
        position: tuple[str, str] | None = None,
        size: int | None = None,
    ) -> list[tuple[str, str]]:
        """Return the query parameters of this list with some changes (for a link)."""
        items: list[tuple[str, str]] = list(self.restriction.params)
        if self.columns_given and self.shown != self.default_columns:
            items += [(PARAM_COLUMNS, name) for name in self.shown]
        order = order or self.order
        if order != self.default_order:
            items.append((PARAM_ORDER, order.token))
        if filters:
            items += [(k, v) for k, v in self.filters.params() if k not in drop]
        if search and self.search:
            items.append((PARAM_SEARCH, self.search))
            if self.search_in != self.default_search_in:
                items += [(PARAM_SEARCH_IN, name) for name in self.search_in]
        size = size or self.page_size
        if size != int(getattr(settings, "DATA_PAGE_SIZE", 50)):
            items.append((PARAM_SIZE, str(size)))
        if position is not None:
            items.append(position)
        return items

    def url(self, items: list[tuple[str, str]], path: str | None = None) -> str:
        query = urlencode(items)
        return (path or self.list_path) + (f"?{query}" if query else "")

    def current_url(self) -> str:
        """Return this page's own link (first page of the current state)."""
        return self.url(self.state())

    def sort_url(self, name: str) -> str:
        """Return the link that sorts by `name` (ascending, or flipped if already sorted by it)."""
        descending = not self.order.descending if self.order.column == name else False
        return self.url(self.state(order=SortOrder(name, descending)))

    def next_url(self, last_keys: Sequence[Any], start: int | None = None) -> str:
        """Return the page after the row with `last_keys`; `start` is where it starts."""
        token = self.cursor_for(last_keys, "next", start)
        return self.url(self.state(position=(PARAM_CURSOR, token)))

    def prev_url(self, first_keys: Sequence[Any], start: int | None = None) -> str:
        """Return the page before the row with `first_keys`; `start` is where it starts."""
        token = self.cursor_for(first_keys, "prev", start)
        return self.url(self.state(position=(PARAM_CURSOR, token)))

    def page_url(self, page: int) -> str:
        position = (PARAM_PAGE, str(page)) if page > 1 else None
        return self.url(self.state(position=position))

    def without_filter_url(self, param: str) -> str:
        return self.url(self.state(drop=[param]))

    def clear_url(self) -> str:
        """Return the list with no filters and no search (columns and order kept)."""
        return self.url(self.state(filters=False, search=False))

    def size_url(self, size: int) -> str:
        return self.url(self.state(size=size))

    def export_url(self) -> str:
        return self.url(self.state(), data_path("data:export", self.table.name))

    def count_url(self) -> str:
        return self.url(self.state(), data_path("data:count", self.table.name))

    def here_url(self) -> str:
        """Return this very page: its state and its position (cursor or page number)."""
        return self.url(self.state(position=self.position_param()))

    def back_pair(self) -> tuple[str, str]:
        """Return the parameter a row link carries so the row page leads back to this very
        list page: its filters, order, columns, scope and position."""
        items = self.state(position=self.position_param())
        return (PARAM_BACK, urlencode(items)[:BACK_MAX])

    def hidden_inputs(self) -> list[tuple[str, str]]:
        """Return what the filter form must carry besides its own fields (restriction, order,
        page size)."""
        items = list(self.restriction.params)
        if self.order != self.default_order:
            items.append((PARAM_ORDER, self.order.token))
        if self.page_size != int(getattr(settings, "DATA_PAGE_SIZE", 50)):
            items.append((PARAM_SIZE, str(self.page_size)))
        return items
