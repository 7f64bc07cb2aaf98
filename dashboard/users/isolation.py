"""Isolation report: where one user's rows are not well fenced off from the others'.

For every table owned by users it answers three questions:
- is row-level security enabled (the application's role then only sees the current user's
  rows; the table owner, which the console reads as, is not subject to it unless FORCEd);
- is each owner column along the path the first key of an index (without one, every lookup of
  a user's rows, and every cascade when a user is deleted, scans the table);
- are there rows whose owner no longer exists (orphans). A validated foreign key makes that
  impossible, so orphans are only counted for links without one (USER_LINKS entries) and for
  foreign keys added NOT VALID; each count is bounded by SUPPORT_COUNT_LIMIT and a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from sqlalchemy import Connection, Text, cast, func, literal, select

from dashboard.target import run_read
from dashboard.users.bounded import in_savepoint
from dashboard.users.links import Link
from dashboard.users.ownership import MissingIndex, OwnershipMap, OwnershipPath, same_type

ENFORCED = "enforced by a foreign key"
COUNTED = "counted"
NOT_APPLICABLE = "the users table itself"


@dataclass
class IsolationRow:
    """One owned table's isolation facts."""

    table: str
    path: OwnershipPath
    rls_enabled: bool
    rls_forced: bool
    unindexed: list[MissingIndex] = field(default_factory=list)
    orphan_check: str = ENFORCED
    orphans: int | None = None
    orphans_capped: bool = False
    orphans_timed_out: bool = False

    @property
    def orphans_text(self) -> str:
        if self.orphan_check != COUNTED:
            return "—"
        if self.orphans_timed_out:
            return "count timed out"
        if self.orphans_capped:
            return f"more than {self.orphans:,}"
        return f"{self.orphans:,}" if self.orphans is not None else "not counted"

    @property
    def problem_count(self) -> int:
        return (not self.rls_enabled) + len(self.unindexed) + bool(self.orphans)


@dataclass
class IsolationReport:
    users_table: str
    rows: list[IsolationRow]
    count_limit: int

    @property
    def without_rls(self) -> list[IsolationRow]:
        return [row for row in self.rows if not row.rls_enabled]

    @property
    def with_unindexed_owner(self) -> list[IsolationRow]:
        return [row for row in self.rows if row.unindexed]

    @property
    def with_orphans(self) -> list[IsolationRow]:
        return [row for row in self.rows if row.orphans or row.orphans_timed_out]


def orphan_count_statement(owners: OwnershipMap, link: Link):
    """Return a count (bounded by SUPPORT_COUNT_LIMIT + 1) of rows whose parent is missing."""
    child = owners.tables[link.child]
    column = child.c[link.child_column]
    parent_column = owners.tables[link.parent].c[link.parent_column]
    if link.is_foreign_key or same_type(column, parent_column):
        match = parent_column == column
    else:
        # A configured link may join columns of different types: compare them as text.
        match = cast(parent_column, Text) == cast(column, Text)
    parent_exists = select(literal(1)).where(match).exists()
    orphans = (
        select(literal(1).label("one"))
        .select_from(child)
        .where(column.is_not(None), ~parent_exists)
        .limit(int(settings.SUPPORT_COUNT_LIMIT) + 1)
        .subquery("orphans")
    )
    return select(func.count()).select_from(orphans)


def needs_orphan_count(owners: OwnershipMap, link: Link) -> bool:
    """Return True unless a validated foreign key already rules orphans out."""
    if not link.is_foreign_key:
        return True
    return (link.child, link.name) in owners.facts.unvalidated_foreign_keys


def _count(statement: Any, conn: Connection) -> int:
    return int(conn.execute(statement).scalar_one())


def isolation_report(owners: OwnershipMap) -> IsolationReport:
    """Return RLS, owner-column index and orphan facts for every table owned by users."""
    rows: list[IsolationRow] = []
    for name, ownership in owners.owned.items():
        flags = owners.facts.flags.get(name)
        row = IsolationRow(
            name,
            ownership.path,
            rls_enabled=bool(flags and flags.rls_enabled),
            rls_forced=bool(flags and flags.rls_forced),
            unindexed=owners.missing_indexes(ownership.path),
        )
        if not ownership.path.links:
            row.orphan_check = NOT_APPLICABLE
        elif needs_orphan_count(owners, ownership.path.links[0]):
            row.orphan_check = COUNTED
        rows.append(row)
    limit = int(settings.SUPPORT_COUNT_LIMIT)

    def count_orphans(conn: Connection) -> None:
        for row in rows:
            if row.orphan_check != COUNTED:
                continue
            statement = orphan_count_statement(owners, row.path.links[0])
            outcome = in_savepoint(conn, partial(_count, statement))
            if outcome.timed_out or outcome.value is None:
                row.orphans_timed_out = True
                continue
            row.orphans = min(outcome.value, limit)
            row.orphans_capped = outcome.value > limit

    if any(row.orphan_check == COUNTED for row in rows):
        run_read(count_orphans)
    return IsolationReport(owners.users.name, rows, limit)
