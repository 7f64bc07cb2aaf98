"""One end-user's footprint: per owned table, how many rows are theirs and the newest few.

The number of statements depends on what the page shows, never on the number of rows nor of
linked tables: one statement counting the user's rows in every table (each count bounded by a
LIMIT, so a user with more rows than SUPPORT_COUNT_LIMIT shows "more than N"), then, for each of
the first `eager_cards` tables with rows, one statement for its newest rows (by a timestamp
column when there is one, else by primary key, descending) and, for a table with a status column
(a boolean, or a CHECK/enum column of a few values) and an exact count, one for the counts by
status; the other tables' cards show their count and load the rest when opened (one table's card
is its own request). All in one read-only transaction whose statement_timeout is
SUPPORT_COUNT_TIMEOUT_MS. If the counts run out of time (or wait for a
lock) together, they are taken again one table at a time; a statement that runs out of time
marks its table ("count timed out") and the remaining tables are read in a fresh transaction,
so one slow table never blanks the page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg.errors
from django.conf import settings
from sqlalchemy import (
    CTE,
    Column,
    Connection,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from dashboard.data.columns import column_kind, describe_columns
from dashboard.data.masking import looks_secret
from dashboard.row_text import masked_names
from dashboard.target import (
    PreparedStatementLost,
    execute_prepared,
    prepared_statements_kept,
    run_read,
)
from dashboard.users.ownership import (
    MissingIndex,
    OwnershipMap,
    TableOwnership,
    rows_of_user,
    rows_of_user_shared,
)

FIRST_ROWS = 5
# Below this many rows, the first rows are picked from the user's rows fetched through the
# owner-column index (OFFSET 0 keeps the planner from walking the primary key instead, which
# reads the whole table when the user's rows sit at its end). Above it, the user's rows are
# dense enough that walking the primary key finds them quickly.
FENCE_MAX_ROWS = 50_000
CELL_CHARS = 120
OUT_OF_TIME = psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
# Timestamp columns that tell when a row was made, preferred in this order for "newest".
NEWEST_COLUMNS = ("created_at", "created", "inserted_at", "date_joined", "added_at")
STATUS_MAX_VALUES = 8  # a CHECK/enum column with at most this many values is a status


@dataclass(frozen=True)
class Cell:
    """One value as the page shows it."""

    text: str
    kind: str = "value"  # value, null, masked, cut (shortened; `full` has the whole text)
    full: str = ""


@dataclass
class TableFootprint:
    """One table's share of the user's data."""

    table: str
    ownership: TableOwnership
    count: int | None = None
    count_capped: bool = False
    count_timed_out: bool = False
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)  # primary keys of `rows`
    rows_timed_out: bool = False
    rows_deferred: bool = False  # has rows, not read with the page: its card loads them
    unindexed: list[MissingIndex] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)
    browse_url: str | None = None  # the Data browser's list of this table, scoped to the user
    newest_by: str = ""  # the timestamp column the rows are sorted by (newest first), or ""
    status_column: str = ""  # the column the rows are counted by (completed, status, ...)
    status_counts: list[tuple[str, int]] = field(default_factory=list)  # (value as text, rows)
    status_links: list[tuple[str, int, str]] = field(default_factory=list)  # ... and a link

    @property
    def count_text(self) -> str:
        """Return the count as a sentence fragment: `12`, `more than 100,000`, `timed out`."""
        if self.count_timed_out:
            return "count timed out"
        if self.count is None:
            return "not counted"
        if self.count_capped:
            return f"more than {self.count:,}"
        return f"{self.count:,}"

    @property
    def has_rows(self) -> bool:
        return bool(self.count) or self.count_timed_out or self.count_capped


@dataclass
class Footprint:
    """Everything of one user: their row in the users table and their rows elsewhere."""

    subject: str
    users_table: str
    exists: bool = False
    profile: list[tuple[str, Cell]] = field(default_factory=list)
    tables: list[TableFootprint] = field(default_factory=list)
    milliseconds: float = 0.0

    @property
    def table_names(self) -> list[str]:
        return [item.table for item in self.tables]

    @property
    def tables_with_rows(self) -> list[TableFootprint]:
        return [item for item in self.tables if item.has_rows]

    @property
    def linked(self) -> list[TableFootprint]:
        """Return the tables linked to the users table (all but the users table itself)."""
        return [item for item in self.tables if item.table != self.users_table]

    @property
    def linked_with_rows(self) -> list[TableFootprint]:
        return [item for item in self.linked if item.has_rows]

    @property
    def empty_tables(self) -> list[str]:
        """Return the linked tables (not the users table) without rows of this user."""
        return [
            item.table
            for item in self.tables
            if not item.has_rows and item.table != self.users_table
        ]


def cell(value: Any, masked: bool = False) -> Cell:
    """Return how one value is shown: NULL, masked, or text cut to CELL_CHARS."""
    if masked and value is not None:
        return Cell("••••••", "masked")
    if value is None:
        return Cell("NULL", "null")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bytes | memoryview):
        text = "\\x" + bytes(value)[:32].hex() + ("…" if len(bytes(value)) > 32 else "")
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    if len(text) > CELL_CHARS:
        return Cell(text[: CELL_CHARS - 1] + "…", "cut", text[:2000])
    return Cell(text)


def count_statement(
    owners: OwnershipMap,
    ownership: TableOwnership,
    key_value: object,
    shared: dict[tuple[str, str], CTE] | None = None,
):
    """Return SELECT count(*) over at most SUPPORT_COUNT_LIMIT + 1 of the user's rows (with
    `shared`, the steps up its path are CTEs shared with other counts of one statement)."""
    table = owners.tables[ownership.table]
    limit = int(settings.SUPPORT_COUNT_LIMIT)
    condition = (
        rows_of_user(owners, ownership.path, key_value)
        if shared is None
        else rows_of_user_shared(owners, ownership.path, key_value, shared)
    )
    capped = (
        select(literal(1).label("one"))
        .select_from(table)
        .where(condition)
        .limit(limit + 1)
        .subquery("capped")
    )
    return select(func.count()).select_from(capped)


def all_counts_statement(owners: OwnershipMap, ownerships: list[TableOwnership], key_value: object):
    """Return one SELECT whose columns are the bounded counts of each table (one round trip);
    when every path is made of foreign keys, the tables up the paths are read once each."""
    by_keys = all(link.is_foreign_key for o in ownerships for link in o.path.links)
    shared: dict[tuple[str, str], CTE] | None = {} if by_keys else None
    return select(
        *(
            count_statement(owners, ownership, key_value, shared)
            .scalar_subquery()
            .label(f"n{position}")
            for position, ownership in enumerate(ownerships)
        )
    )


def newest_column(table: Table) -> Column | None:
    """Return the timestamp column that best tells when a row was made, or None."""
    stamps = [
        column
        for column in table.c
        if column_kind(column) in ("timestamp", "date") and not looks_secret(column.name)
    ]
    for name in NEWEST_COLUMNS:
        for column in stamps:
            if column.name == name:
                return column
    made = [column for column in stamps if "creat" in column.name or "insert" in column.name]
    return (made or stamps)[0] if made or stamps else None


def status_column(table: Table) -> str:
    """Return the column a table's rows are best counted by (a boolean, or a CHECK/enum
    column of at most STATUS_MAX_VALUES values), or ''."""
    infos = describe_columns(table, masked_names(table))
    usable = [info for info in infos.values() if not info.primary_key and not info.masked]
    for info in usable:
        if info.kind == "boolean":
            return info.name
    for info in usable:
        if 1 < len(info.choices) <= STATUS_MAX_VALUES:
            return info.name
    return ""


def newest_first(table: Table, columns: Any) -> list[ColumnElement[Any]]:
    """Return the ORDER BY of "newest first" over `columns` (the table's, or a subquery's)."""
    stamp = newest_column(table)
    order = [columns[stamp.name].desc().nulls_last()] if stamp is not None else []
    return order + [columns[c.name].desc() for c in table.primary_key.columns]


USER_KEY_PARAM = "footprint_user_key"
# Renders the prepared definition: no parameter style that doubles `%` (it is sent as it is).
_PLAIN_DIALECT = postgresql.dialect(paramstyle="named")


def counts_query(
    owners: OwnershipMap, ownerships: list[TableOwnership], key_value: object
) -> tuple[Any, dict[str, object]]:
    """Return the statement counting the user's rows in every table, and its parameters.

    Built once per ownership map, with the user's key as a bound parameter, when every path is
    made of foreign keys (so the key is compared as it is); otherwise built for this key. At
    hundreds of tables, building and compiling it took longer than planning it."""
    if not by_foreign_keys(ownerships):
        return all_counts_statement(owners, ownerships, key_value), {}
    key = ("all_counts", tuple(o.table for o in ownerships))
    statement = owners.statements.get(key)
    if statement is None:
        placeholder = bindparam(USER_KEY_PARAM, type_=owners.key_column.type)
        statement = all_counts_statement(owners, ownerships, placeholder)
        owners.statements[key] = statement
    return statement, {USER_KEY_PARAM: key_value}


def by_foreign_keys(ownerships: list[TableOwnership]) -> bool:
    """Return True when every path is made of foreign keys (the key is compared as it is)."""
    return all(link.is_foreign_key for o in ownerships for link in o.path.links)


USER_KEY_SETTING = "schemadesk.footprint_user_key"  # what the prepared counts read the key from


def counts_definition(owners: OwnershipMap, ownerships: list[TableOwnership]) -> str:
    """Return the counting statement as `execute_prepared` takes it (the user's key read from
    USER_KEY_SETTING), made once per ownership map: prepared, PostgreSQL plans it once per
    connection instead of at every view (planning a statement over hundreds of tables took
    longer than running it)."""
    key = ("all_counts_prepared", tuple(o.table for o in ownerships))
    definition = owners.statements.get(key)
    if definition is None:
        key_type = owners.key_column.type.compile(dialect=_PLAIN_DIALECT)
        placeholder = literal_column(
            f"CAST(current_setting('{USER_KEY_SETTING}') AS {key_type})",
            type_=owners.key_column.type,
        )
        statement = all_counts_statement(owners, ownerships, placeholder)
        definition = str(
            statement.compile(dialect=_PLAIN_DIALECT, compile_kwargs={"literal_binds": True})
        )
        owners.statements[key] = definition
    return str(definition)


def all_counts(
    conn: Connection,
    owners: OwnershipMap,
    ownerships: list[TableOwnership],
    key_value: object,
    *,
    prepared_from: int = 20,
) -> Sequence[Any]:
    """Return the bounded counts of the user's rows in each table (one statement); prepared
    (see counts_definition) when it counts at least `prepared_from` tables: a card's count of
    one table is quick to plan, and is not worth a prepared statement per table."""
    if (
        len(ownerships) >= prepared_from
        and by_foreign_keys(ownerships)
        and prepared_statements_kept(conn)
    ):
        definition = counts_definition(owners, ownerships)
        arguments = {USER_KEY_SETTING: str(key_value)}
        return execute_prepared(conn, definition, arguments).one()
    statement, params = counts_query(owners, ownerships, key_value)
    return conn.execute(statement, params).one()


def first_rows_statement(
    owners: OwnershipMap, ownership: TableOwnership, key_value: object, count: int | None
):
    """Return the user's newest rows of the table (see newest_first)."""
    table = owners.tables[ownership.table]
    condition = rows_of_user(owners, ownership.path, key_value)
    if count is not None and count <= FENCE_MAX_ROWS:
        mine = select(table).where(condition).offset(0).subquery("mine")
        return select(mine).order_by(*newest_first(table, mine.c)).limit(FIRST_ROWS)
    return select(table).where(condition).order_by(*newest_first(table, table.c)).limit(FIRST_ROWS)


def status_counts_statement(
    owners: OwnershipMap, ownership: TableOwnership, key_value: object, column: str
):
    """Return SELECT value, count(*) of the user's rows grouped by the status `column`."""
    table = owners.tables[ownership.table]
    condition = rows_of_user(owners, ownership.path, key_value)
    mine = select(table.c[column].label("value")).where(condition).subquery("mine")
    return select(mine.c.value, func.count()).group_by(mine.c.value).order_by(mine.c.value)


def _missing_indexes(owners: OwnershipMap, table: str) -> list[MissingIndex]:
    """Return the owner indexes `table`'s path lacks, worked out once per ownership map."""
    key = ("missing_indexes", table)
    if key not in owners.statements:
        owners.statements[key] = owners.missing_indexes(owners.owned[table].path)
    return list(owners.statements[key])  # type: ignore[call-overload]  # a list stored above


def _newest_by(owners: OwnershipMap, table: str) -> str:
    """Return the name of `table`'s newest-first column, worked out once per ownership map."""
    key = ("newest", table)
    if key not in owners.statements:
        owners.statements[key] = _column_name(newest_column(owners.tables[table]))
    return str(owners.statements[key])


def user_footprint(
    owners: OwnershipMap, subject: str, key_value: object, *, eager_cards: int = 5
) -> Footprint:
    """Return the user's row and, per owned table, their row count and (for the first
    `eager_cards` tables with rows) their first rows; the others are marked `rows_deferred`."""
    started = time.perf_counter()
    result = Footprint(subject, owners.users.name)
    pending = [
        TableFootprint(
            name,
            ownership,
            unindexed=_missing_indexes(owners, name),
            newest_by=_newest_by(owners, name),
        )
        for name, ownership in owners.owned.items()
    ]
    result.tables = list(pending)
    limit = int(settings.SUPPORT_COUNT_LIMIT)
    together = {"tried": False}  # the counts of all tables are first asked in one statement
    cards = {"left": eager_cards}  # linked tables whose first rows are still read with the page

    def note_count(item: TableFootprint, count: int) -> None:
        item.count_capped = count > limit
        item.count = min(count, limit)

    def work(conn: Connection) -> list[TableFootprint]:
        """Fill tables until one statement times out; return those not done yet."""
        if not together["tried"]:
            together["tried"] = True
            counted = [item for item in pending if item.ownership.path.hops]
            if counted:
                try:
                    counts = all_counts(
                        conn, owners, [item.ownership for item in counted], key_value
                    )
                except PreparedStatementLost:
                    together["tried"] = False  # again, unprepared, in a fresh transaction
                    return pending
                except DBAPIError as exc:
                    if not isinstance(exc.orig, OUT_OF_TIME):
                        raise
                    return pending  # one table is slow: count them one by one, afresh
                for item, count in zip(counted, counts, strict=True):
                    note_count(item, int(count))
        while pending:
            item = pending[0]
            table = owners.tables[item.table]
            counting = (
                item.count is None and not item.count_timed_out and bool(item.ownership.path.hops)
            )
            try:
                if counting:
                    statement = count_statement(owners, item.ownership, key_value)
                    note_count(item, int(conn.execute(statement).scalar_one()))
                    counting = False
                deferred = item.ownership.path.hops and cards["left"] <= 0
                if item.count != 0 and not item.rows and deferred:
                    item.rows_deferred = True  # its card reads them when opened
                elif item.count != 0 and not item.rows:
                    if item.ownership.path.hops:
                        cards["left"] -= 1
                        # What a card shows under its rows: worked out for the cards read only.
                        item.status_column = status_column(table)
                    item.masked = sorted(masked_names(table))
                    statement = first_rows_statement(owners, item.ownership, key_value, item.count)
                    rows = conn.execute(statement).mappings().all()
                    _fill_rows(item, table, rows)
                    if not item.ownership.path.hops:
                        item.count = len(rows)
                if (
                    item.status_column
                    and item.count
                    and not item.count_capped
                    and not item.rows_deferred
                ):
                    statement = status_counts_statement(
                        owners, item.ownership, key_value, item.status_column
                    )
                    item.status_counts = [
                        (_value_text(value), int(n)) for value, n in conn.execute(statement)
                    ]
            except DBAPIError as exc:
                # Out of time, or waiting too long for a lock (a migration holding the table).
                if not isinstance(exc.orig, OUT_OF_TIME):
                    raise
                if counting:
                    item.count_timed_out = True  # its rows are tried in the next transaction
                elif item.rows:
                    item.status_column = ""  # the rows were read: only the counts by status fail
                else:
                    item.rows_timed_out = True
                    pending.pop(0)
                return pending  # the transaction is aborted: go on in a fresh one
            pending.pop(0)
        return pending

    while pending:
        run_read(work, timeout_ms=int(settings.SUPPORT_COUNT_TIMEOUT_MS))

    users_item = result.tables[0] if result.tables else None
    if users_item is not None and users_item.table == owners.users.name and users_item.rows:
        result.exists = True
        result.profile = list(zip(users_item.columns, users_item.rows[0], strict=True))
    result.milliseconds = (time.perf_counter() - started) * 1000
    return result


def _column_name(column: Column | None) -> str:
    return "" if column is None else column.name


def _value_text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill_rows(item: TableFootprint, table: Table, rows) -> None:
    item.columns = [column.name for column in table.c]
    masked = masked_names(table)
    item.rows = [[cell(row[name], name in masked) for name in item.columns] for row in rows]
    key = [column.name for column in table.primary_key.columns]
    if key and not any(name in masked for name in key):  # a masked key is never recorded
        item.keys = [{name: row[name] for name in key} for row in rows]
