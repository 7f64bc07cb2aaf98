"""Pieces of a list page's SQL that need no parsed state: its sort order, the table's
quoted name and its row estimate (the statements themselves are built by `ListQuery`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Table,
    case,
    cast,
    column,
    func,
    literal,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement


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
