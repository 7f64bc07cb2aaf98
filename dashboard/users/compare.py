"""One end-user's data now and in a branch: per table, what was deleted, added or changed since.

For every table on the user's ownership paths (the users table, direct and indirect ones), the
user's rows are read on both sides by the same statement: the primary key and the row's
fingerprint over the columns both sides have (dashboard/row_text.py), in key order, at most
COMPARE_MAX_ROWS a side. Keys only in the branch are rows deleted since; only now, rows added
since; on both with another fingerprint, rows changed. Counts come first; the rows of one kind
are then read a page at a time (COMPARE_PAGE_ROWS, a signed keyset cursor on the key), their
values as text on both sides, changed columns side by side, masked columns masked.

Bounds: each statement runs under COMPARE_TIMEOUT_MS (a table that runs out of time says so and
the others still show); a side with more rows than the limit is compared up to the last key both
sides fully read ("at least"). Text keys are ordered with the "C" collation on both sides so
that the keyset and the merge agree whatever the databases' collations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg.errors
from django.conf import settings
from django.core import signing
from sqlalchemy import Column, ColumnElement, Connection, String, select, text, tuple_
from sqlalchemy.exc import DBAPIError

from dashboard.data.cursor import BadCursor, decode_cursor, encode_cursor
from dashboard.data.masking import MASKED_EXPORT_TEXT
from dashboard.row_text import (
    as_text,
    fingerprint,
    fix_text_output,
    masked_names,
    text_rows,
)
from dashboard.users.ownership import OwnershipMap, TableOwnership, rows_of_user

KINDS = {
    "deleted": "only in the branch: deleted since",
    "added": "only now: added since",
    "changed": "changed since",
}
SELECTION_SALT = "schemadesk.compare.row"
OUT_OF_TIME = psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
CELL_CHARS = 160

# The branch's columns of the owned tables: a branch may be older or newer than the target.
BRANCH_COLUMNS_SQL = text(
    """
    SELECT c.relname AS table_name, a.attname AS column_name
    FROM pg_catalog.pg_attribute AS a
    JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relname = ANY(:tables)
      AND c.relkind IN ('r', 'p')
      AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum
    """
)

Reader = Callable[[Callable[[Connection], Any]], Any]


@dataclass
class TableComparison:
    """One table's difference for the user: counts, and what could not be compared."""

    table: str
    ownership: TableOwnership
    key: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # compared: on both sides, table order
    only_in_branch: list[str] = field(default_factory=list)  # columns
    only_now: list[str] = field(default_factory=list)
    masked: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    same: int = 0
    capped: bool = False  # a side has more rows than the limit: compared up to a key
    timed_out: bool = False
    problem: str = ""

    @property
    def differs(self) -> bool:
        return any(self.counts.values()) or self.capped or self.timed_out

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Comparison:
    """The user's data compared with one branch."""

    subject: str
    tables: list[TableComparison]
    milliseconds: float = 0.0

    @property
    def differing(self) -> list[TableComparison]:
        return [item for item in self.tables if item.differs or item.problem]

    @property
    def unchanged(self) -> list[str]:
        return [item.table for item in self.tables if not item.differs and not item.problem]


@dataclass(frozen=True)
class DiffCell:
    column: str
    branch: str
    now: str
    kind: str  # value, null, masked
    changed: bool = False


@dataclass
class DiffRow:
    """One row that differs: its key, both sides' values, and its restore token."""

    kind: str
    key: tuple[tuple[str, str], ...]
    cells: list[DiffCell]
    token: str = ""  # deleted and changed rows: what a restore needs (signed)
    urls: dict[str, str] = field(default_factory=dict)  # rows there now: edit and delete pages

    @property
    def key_label(self) -> str:
        return ", ".join(f"{name} = {value}" for name, value in self.key)

    @property
    def changed_columns(self) -> list[str]:
        return [cell.column for cell in self.cells if cell.changed]


@dataclass
class DiffPage:
    """A page of one kind of differing rows of one table."""

    table: TableComparison
    kind: str
    rows: list[DiffRow] = field(default_factory=list)
    next_cursor: str = ""


@dataclass(frozen=True)
class Selected:
    """A row chosen for restoring: its key and both sides' fingerprints at the comparison."""

    table: str
    key: tuple[tuple[str, str], ...]
    now: str  # '' when the row is only in the branch (deleted since)
    branch: str


def selection_token(selected: Selected) -> str:
    """Return the signed token a checkbox carries for a restorable row."""
    payload = [selected.table, [list(pair) for pair in selected.key], selected.now, selected.branch]
    return signing.dumps(payload, salt=SELECTION_SALT, compress=True)


def read_token(token: str) -> Selected:
    """Return the row a token names, or raise BadCursor when it was damaged or edited."""
    try:
        table, key, now, branch = signing.loads(token, salt=SELECTION_SALT)
        return Selected(str(table), tuple((str(n), str(v)) for n, v in key), str(now), str(branch))
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadCursor("A selected row was damaged or edited; compare again.") from exc


# -- reading -------------------------------------------------------------------------------------


def _ordered(column: Column) -> ColumnElement:
    """Return the key column as ordered on both sides: text by its bytes ("C")."""
    return column.collate("C") if isinstance(column.type, String) else column


def side_hashes(
    conn: Connection,
    owners: OwnershipMap,
    item: TableComparison,
    key_value: object,
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[tuple[Any, ...], tuple[tuple[str, str], ...], str]]:
    """Return (native key, text key, fingerprint) of the user's rows of one table, in key order,
    after the key `after`, at most `limit` + 1."""
    table = owners.tables[item.table]
    key_columns = [table.c[name] for name in item.key]
    order = [_ordered(column) for column in key_columns]
    statement = select(
        *key_columns,
        *(as_text(column) for column in key_columns),
        fingerprint(table, item.columns),
    ).where(rows_of_user(owners, item.ownership.path, key_value, table=table))
    if after is not None:
        statement = statement.where(tuple_(*order) > tuple_(*after))
    statement = statement.order_by(*order).limit(limit + 1)
    width = len(key_columns)
    found = []
    for row in conn.execute(statement):
        native = tuple(row[:width])
        texts = tuple(zip(item.key, (str(v) for v in row[width : 2 * width]), strict=True))
        found.append((native, texts, str(row[2 * width])))
    return found


@dataclass
class _Diff:
    """Both sides merged up to the horizon: the keys of each kind, in key order."""

    kinds: dict[str, list[tuple[tuple[Any, ...], tuple[tuple[str, str], ...]]]]
    fingerprints: dict[tuple[tuple[str, str], ...], tuple[str, str]]  # (branch, now)
    same: int
    horizon: tuple[Any, ...] | None  # set when a side was cut: the last key compared


def merged(branch: list, now: list, limit: int) -> _Diff:
    """Return the rows of each kind among both sides' hashes (each read with limit + 1)."""
    capped_sides = [side[limit - 1][0] for side in (branch, now) if len(side) > limit]
    horizon = min(capped_sides) if capped_sides else None

    def within(side: list) -> list:
        rows = side[:limit]
        return [row for row in rows if horizon is None or row[0] <= horizon]

    branch_rows, now_rows = within(branch), within(now)
    by_key_now = {texts: (native, fp) for native, texts, fp in now_rows}
    by_key_branch = {texts: (native, fp) for native, texts, fp in branch_rows}
    kinds: dict[str, list] = {kind: [] for kind in KINDS}
    fingerprints: dict[tuple, tuple[str, str]] = {}
    same = 0
    for native, texts, fp in branch_rows:
        other = by_key_now.get(texts)
        if other is None:
            kinds["deleted"].append((native, texts))
            fingerprints[texts] = (fp, "")
        elif other[1] != fp:
            kinds["changed"].append((native, texts))
            fingerprints[texts] = (fp, other[1])
        else:
            same += 1
    for native, texts, fp in now_rows:
        if texts not in by_key_branch:
            kinds["added"].append((native, texts))
            fingerprints[texts] = ("", fp)
    for rows in kinds.values():
        rows.sort(key=lambda row: row[0])
    return _Diff(kinds, fingerprints, same, horizon)


def both_sides(
    owners: OwnershipMap,
    item: TableComparison,
    key_value: object,
    read_now: Reader,
    read_branch: Reader,
    after: Sequence[Any] | None,
    limit: int,
) -> _Diff:
    """Return one table's rows of each kind after the key `after`, read on both sides."""
    read: dict[str, list] = {}

    def hashes(side: str) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            fix_text_output(conn)
            read[side] = side_hashes(conn, owners, item, key_value, after, limit)

        return work

    read_branch(hashes("branch"))
    read_now(hashes("now"))
    return merged(read["branch"], read["now"], limit)


def branch_columns(read_branch: Reader, schema: str, tables: list[str]) -> dict[str, list[str]]:
    """Return the columns of each owned table the branch has (a table it lacks is absent)."""

    def work(conn: Connection) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for row in conn.execute(BRANCH_COLUMNS_SQL, {"schema": schema, "tables": tables}):
            found.setdefault(row.table_name, []).append(row.column_name)
        return found

    return read_branch(work)


def comparable_tables(
    owners: OwnershipMap, in_branch: dict[str, list[str]], only: str | None = None
) -> list[TableComparison]:
    """Return a TableComparison per owned table (or only `only`), with what can be compared."""
    items = []
    for name, ownership in owners.owned.items():
        if only is not None and name != only:
            continue
        table = owners.tables[name]
        item = TableComparison(name, ownership, key=[c.name for c in table.primary_key.columns])
        item.masked = masked_names(table)
        branch_names = in_branch.get(name)
        path_tables = [link.parent for link in ownership.path.links]
        if not item.key:
            item.problem = "It has no primary key, so its rows cannot be matched."
        elif any(name in item.masked for name in item.key):
            item.problem = "Its rows are identified by a secret-looking key."
        elif branch_names is None:
            item.problem = "The branch has no such table."
        elif any(parent not in in_branch for parent in path_tables):
            item.problem = "The branch lacks a table of its path to the users table."
        else:
            item.columns = [c.name for c in table.columns if c.name in branch_names]
            item.only_now = [c.name for c in table.columns if c.name not in branch_names]
            item.only_in_branch = [n for n in branch_names if n not in table.c]
            needed = set(item.key) | {link.child_column for link in ownership.path.links[:1]}
            if not needed <= set(item.columns):
                item.problem = "The branch lacks its key or owner column."
        items.append(item)
    return items


def _counted(conn: Connection, work: Callable[[], None], item: TableComparison) -> None:
    """Run one table's statement in a savepoint: out of time marks the table, others go on."""
    try:
        with conn.begin_nested():
            work()
    except DBAPIError as exc:
        if not isinstance(exc.orig, OUT_OF_TIME):
            raise
        item.timed_out = True


def compare(
    owners: OwnershipMap,
    subject: str,
    key_value: object,
    read_now: Reader,
    read_branch: Reader,
    *,
    only: str | None = None,
    max_rows: int | None = None,
) -> Comparison:
    """Return the counts of rows deleted, added and changed since the branch, per owned table."""
    started = time.perf_counter()
    limit = int(max_rows or settings.COMPARE_MAX_ROWS)
    in_branch = branch_columns(read_branch, str(owners.users_table.schema), list(owners.owned))
    items = comparable_tables(owners, in_branch, only)
    live = [item for item in items if not item.problem]
    sides: dict[str, dict[str, list]] = {"branch": {}, "now": {}}

    def reader(side: str) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            fix_text_output(conn)
            for item in live:
                if item.timed_out:
                    continue

                def one(item: TableComparison = item) -> None:
                    sides[side][item.table] = side_hashes(
                        conn, owners, item, key_value, None, limit
                    )

                _counted(conn, one, item)

        return work

    read_branch(reader("branch"))
    read_now(reader("now"))
    for item in live:
        if item.timed_out:
            continue
        diff = merged(sides["branch"][item.table], sides["now"][item.table], limit)
        item.counts = {kind: len(rows) for kind, rows in diff.kinds.items()}
        item.same, item.capped = diff.same, diff.horizon is not None
    return Comparison(subject, items, (time.perf_counter() - started) * 1000)


def _cell_text(value: str | None, masked: bool) -> tuple[str, str]:
    if value is None:
        return "NULL", "null"
    if masked:
        return MASKED_EXPORT_TEXT, "masked"
    if len(value) > CELL_CHARS:
        return value[: CELL_CHARS - 1] + "…", "value"
    return value, "value"


def diff_page(
    owners: OwnershipMap,
    item: TableComparison,
    kind: str,
    key_value: object,
    read_now: Reader,
    read_branch: Reader,
    cursor: str = "",
    *,
    page_rows: int | None = None,
    max_rows: int | None = None,
) -> DiffPage:
    """Return a page of `kind` rows of one table, after `cursor` (BadCursor if it is forged)."""
    size = int(page_rows or settings.COMPARE_PAGE_ROWS)
    limit = int(max_rows or settings.COMPARE_MAX_ROWS)
    order = f"compare:{kind}"
    after = decode_cursor(cursor, item.table, order, len(item.key)).values if cursor else None
    page = DiffPage(item, kind)
    table = owners.tables[item.table]
    diff = both_sides(owners, item, key_value, read_now, read_branch, after, limit)
    chosen = diff.kinds[kind][:size]
    if len(diff.kinds[kind]) > size:
        page.next_cursor = encode_cursor(item.table, order, "next", chosen[-1][0])
    elif diff.horizon is not None:  # a side was cut: go on after the last key compared
        page.next_cursor = encode_cursor(item.table, order, "next", diff.horizon)
    if not chosen:
        return page
    keys = [texts for _, texts in chosen]
    natives = [native for native, _ in chosen]
    values: dict[str, dict] = {}

    def full(side: str) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            fix_text_output(conn)
            key_columns = tuple_(*(table.c[name] for name in item.key))
            where = [
                rows_of_user(owners, item.ownership.path, key_value, table=table),
                key_columns.in_(natives),
            ]
            values[side] = {row.key: row for row in text_rows(conn, table, where, item.columns)}

        return work

    if kind != "added":
        read_branch(full("branch"))
    if kind != "deleted":
        read_now(full("now"))
    for key in keys:
        branch_row = values.get("branch", {}).get(key)
        now_row = values.get("now", {}).get(key)
        cells = []
        for column in item.columns:
            masked = column in item.masked
            old = branch_row.values[column] if branch_row else None
            new = now_row.values[column] if now_row else None
            old_text, old_kind = _cell_text(old, masked) if branch_row else ("", "absent")
            new_text, new_kind = _cell_text(new, masked) if now_row else ("", "absent")
            changed = bool(branch_row and now_row and old != new)
            shown_kind = "masked" if masked else (old_kind if branch_row else new_kind)
            cells.append(DiffCell(column, old_text, new_text, shown_kind, changed))
        branch_fp, now_fp = diff.fingerprints[key]
        token = ""
        if kind != "added":
            token = selection_token(Selected(item.table, key, now_fp, branch_fp))
        page.rows.append(DiffRow(kind, key, cells, token))
    return page


def restorable(
    owners: OwnershipMap,
    item: TableComparison,
    key_value: object,
    read_now: Reader,
    read_branch: Reader,
    limit: int,
) -> list[Selected]:
    """Return every deleted and changed row of one table (a "whole table" restore), or raise
    ValueError when there are more than `limit` to compare."""
    diff = both_sides(owners, item, key_value, read_now, read_branch, None, limit)
    if diff.horizon is not None:
        raise ValueError(
            f"“{item.table}” has more than {limit} rows of this user on one side: select the "
            "rows to restore instead of the whole table."
        )
    chosen = sorted(diff.kinds["deleted"] + diff.kinds["changed"], key=lambda row: row[0])
    return [
        Selected(item.table, texts, diff.fingerprints[texts][1], diff.fingerprints[texts][0])
        for _, texts in chosen
    ]
