"""Keyset paging of a list page: its sort order, the row estimate and its SQL statements.

`ListStatements` is the SQL half of `ListQuery` (see query.py): ORDER BY and the NULL-safe
keyset clause on (sort column, primary key), and the page, count and export statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    TEXT,
    Select,
    Table,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from dashboard.data.cells import PREVIEW_CHARS


@dataclass(frozen=True)
class SortOrder:
    """The list's order: a column (None: storage order, for tables without a key) and way."""

    column: str | None
    descending: bool = False

    @property
    def token(self) -> str:
        """Return the order as the `o` parameter writes it (`-created_at`)."""
        if self.column is None:
            return ""
        return ("-" if self.descending else "") + self.column


# A dialect whose paramstyle is not "pyformat": its quoting leaves `%` alone (the default
# doubles it for the driver, and a bound value is not a statement: "50%%" names no table).
_PLAIN_QUOTING = postgresql.dialect(paramstyle="named").identifier_preparer


def quoted_name(table: Table) -> str:
    """Return schema.table quoted where needed: text that casts to regclass."""
    return _PLAIN_QUOTING.format_table(table)


_pg_class = sql_table(
    "pg_class",
    column("oid"),
    column("reltuples"),
    column("relpages"),
    schema="pg_catalog",
)


def estimate_expression(table: Table) -> ColumnElement[Any]:
    """Return a scalar subquery: the planner's row estimate of `table`, -1 when unknown.

    The planner scales reltuples (rows at the last VACUUM/ANALYZE) by the table's current size
    in pages, so an estimate follows a table that grew since; reltuples = -1 means never
    analyzed (https://www.postgresql.org/docs/current/row-estimation-examples.html).
    """
    pages_now = func.pg_relation_size(_pg_class.c.oid) / func.current_setting("block_size").cast(
        postgresql.INTEGER
    )
    estimate = case(
        (_pg_class.c.reltuples < 0, literal(-1.0)),
        (_pg_class.c.relpages == 0, _pg_class.c.reltuples),
        else_=_pg_class.c.reltuples / _pg_class.c.relpages * pages_now,
    )
    return (
        select(func.round(estimate).cast(postgresql.BIGINT))
        .where(_pg_class.c.oid == cast(literal(quoted_name(table)), postgresql.REGCLASS))
        .scalar_subquery()
    )


class ListStatements:
    """The statements of a list page, built from the parsed state of a `ListQuery`."""

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
        if info.masked:
            return col.is_(None)
        if info.kind == "bytes":
            return func.octet_length(col)
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
        return bool(self.key_names) and self.infos[self.key_names[0]].nullable

    def order_by(self, reverse: bool = False) -> list[ColumnElement[Any]]:
        """Return ORDER BY for the keyset (NULLs last; `reverse` reads the order backwards)."""
        if not self.key_names:
            if self.order.column is None:
                return []
            col = self.table.c[self.order.column]
            return [col.desc().nulls_last() if self.order.descending else col.asc().nulls_last()]
        descending = self.order.descending != reverse
        clauses = []
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
        """Return the one statement of a list page: n + 1 rows, their keys, the estimate."""
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
