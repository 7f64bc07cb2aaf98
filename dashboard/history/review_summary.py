"""The summary of one revision's upgrade: what it locks, in which mode, for how long, and what
it changes for good.

A lock taken inside a transaction block is held until its COMMIT, so it lasts as long as all
the work done after it in that block, on any table: a metadata-only change made before a
rewrite of another table holds its lock for the whole rewrite. Outside a block a statement is
its own transaction. How long the work takes is estimated from the table's size in the target
database where it is known (`pg_total_relation_size`, the planner's row estimate) at a
throughput that is a keyword argument: an order of magnitude, not a promise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.history.review_locks import (
    BLOCKS,
    INDEX_BUILD,
    METADATA,
    REWRITE,
    LockReader,
    TableLock,
    heavier,
    stronger,
)
from dashboard.history.review_session import SessionState
from dashboard.history.review_statements import Statement, _bare, _touches_version_table

BYTES_PER_SECOND = 50 * 1024 * 1024  # a cautious rate for reading or rewriting a table


@dataclass(frozen=True)
class TableSize:
    """What the target says about a table: the planner's row estimate and its sizes."""

    rows: int | None  # None when never analysed
    total_bytes: int  # heap, TOAST and indexes
    index_bytes: int

    @property
    def heap_bytes(self) -> int:
        return max(self.total_bytes - self.index_bytes, 0)


@dataclass
class LockHold:
    """One table's lock over one transaction (or one statement outside a block)."""

    table: str
    mode: str
    work: str  # the costliest work done on this table under the lock
    what: list[str]  # what the statements do to it
    statements: list[int]  # indexes of the statements that take it
    released_at: int | None  # index of the COMMIT; None: at the end of its own statement
    during: list[tuple[int, TableLock]] = field(default_factory=list)  # work while held
    size: TableSize | None = None
    seconds: float | None = None  # estimated time held, once sizes are known
    unknown_sizes: list[str] = field(default_factory=list)  # tables whose size is not known

    @property
    def blocks(self) -> str:
        return BLOCKS[self.mode]

    @property
    def first_number(self) -> int:
        """Return the 1-based number of the statement that takes it first."""
        return self.statements[0] + 1

    @property
    def released_number(self) -> int | None:
        """Return the 1-based number of the COMMIT that releases it (None: its own end)."""
        return None if self.released_at is None else self.released_at + 1

    @property
    def while_held(self) -> list[tuple[int, TableLock]]:
        """Return (number, lock) of the costly work on other tables done while it is held."""
        return [(index + 1, lock) for index, lock in self.heavy_during if lock.table != self.table]

    @property
    def duration(self) -> str:
        return duration_words(self.seconds)

    @property
    def heavy_during(self) -> list[tuple[int, TableLock]]:
        """Return the work done while it is held that is more than a catalog change."""
        return [(index, lock) for index, lock in self.during if lock.work != METADATA]


def duration_words(seconds: float | None) -> str:
    """Return an estimated duration in words ('under a second', 'about 4 min')."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {round(seconds)} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass
class RevisionSummary:
    """What the upgrade of one revision would do to the live database."""

    holds: list[LockHold]
    one_way: list[tuple[int, str]]  # (statement index, sentence)
    new_tables: list[str]
    lock_timeout: str  # in effect at the first lock ("" none)
    statement_timeout: str
    transactions: int
    bytes_per_second: int = BYTES_PER_SECOND

    @property
    def tables(self) -> list[str]:
        """Return the existing tables locked, in order."""
        return list(dict.fromkeys(hold.table for hold in self.holds))


def revision_summary(
    statements: list[Statement], states: list[SessionState], version_table: str
) -> RevisionSummary:
    """Return the summary of the statements of one revision's upgrade SQL (sizes not known)."""
    reader = LockReader()
    holds: dict[tuple[int, str], LockHold] = {}
    open_holds: list[LockHold] = []
    one_way: list[tuple[int, str]] = []
    new_tables: list[str] = []
    first_lock_state: SessionState | None = None
    for index, (statement, state) in enumerate(zip(statements, states, strict=True)):
        if statement.node is None or _touches_version_table(statement.text, version_table):
            reader.read(statement.node)
            continue
        effect = reader.read(statement.node)
        if effect.creates:
            new_tables.append(effect.creates)
        one_way.extend((index, sentence) for sentence in effect.one_way)
        for lock in effect.locks:
            first_lock_state = first_lock_state or state
            key = (state.transaction or -index - 1, lock.table)
            hold = holds.get(key)
            if hold is None:
                hold = LockHold(lock.table, lock.mode, lock.work, [], [], None)
                holds[key] = hold
                open_holds.append(hold)
            hold.mode = stronger(hold.mode, lock.mode)
            hold.work = heavier(hold.work, lock.work)
            hold.what.append(lock.what)
            hold.statements.append(index)
        for hold in open_holds:
            hold.during.extend((index, lock) for lock in effect.locks)
        if not state.in_transaction or _ends_transaction(states, index):
            for hold in open_holds:
                hold.released_at = index if state.in_transaction else None
            open_holds = []
    for hold in open_holds:  # the script never commits: held until the session ends
        hold.released_at = len(statements) - 1
    start = first_lock_state or (states[0] if states else SessionState())
    return RevisionSummary(
        holds=list(holds.values()),
        one_way=one_way,
        new_tables=new_tables,
        lock_timeout=start.lock_timeout,
        statement_timeout=start.statement_timeout,
        transactions=max((state.transaction for state in states), default=0),
    )


def _ends_transaction(states: list[SessionState], index: int) -> bool:
    """Return True when statement `index` is the last of its transaction block."""
    following = states[index + 1] if index + 1 < len(states) else None
    return following is None or following.transaction != states[index].transaction


def work_seconds(
    lock: TableLock, size: TableSize | None, bytes_per_second: int = BYTES_PER_SECOND
) -> float | None:
    """Return the estimated seconds of one piece of work (None when the size is unknown)."""
    if lock.work == METADATA:
        return 0.0
    if size is None:
        return None
    if lock.work == REWRITE:
        return size.total_bytes / bytes_per_second
    if lock.work == INDEX_BUILD:
        return size.heap_bytes * 1.5 / bytes_per_second  # read the table, write the index
    return size.heap_bytes / bytes_per_second


def with_sizes(
    summary: RevisionSummary,
    sizes: dict[str, TableSize],
    *,
    bytes_per_second: int = BYTES_PER_SECOND,
) -> RevisionSummary:
    """Return the summary with each hold's table size and estimated time (`sizes` by name)."""
    summary.bytes_per_second = bytes_per_second
    for hold in summary.holds:
        hold.size = sizes.get(_bare(hold.table))
        total = 0.0
        unknown: list[str] = []
        for _index, lock in hold.during:
            seconds = work_seconds(lock, sizes.get(_bare(lock.table)), bytes_per_second)
            if seconds is None:
                unknown.append(lock.table)
                continue
            total += seconds
        hold.unknown_sizes = list(dict.fromkeys(unknown))
        hold.seconds = None if unknown else total
    return summary
