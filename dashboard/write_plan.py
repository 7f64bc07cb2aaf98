"""What a write is: the plan of row changes, its statements and preview, its outcome, and the
refusals that leave the target untouched (dashboard/target_write.py carries it out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.audit.models import AuditEvent
from dashboard.users.ownership import OwnershipMap


class WriteRefused(Exception):
    """A write that cannot happen, with the sentence for the operator (nothing was written)."""

    status = 409

    def __init__(self, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.detail = detail or sentence


class WritesOff(WriteRefused):
    """Row changes are not enabled on this console."""

    status = 403


class ReasonMissing(WriteRefused):
    """A change without its reason (every change needs one, whatever the settings)."""

    status = 400

    def __init__(self) -> None:
        super().__init__("Give a reason for this change; it is written to the audit trail.")


class WriteUnavailable(WriteRefused):
    """A database the write needs cannot be reached."""

    status = 503


@dataclass(frozen=True)
class RowChange:
    """One row to insert, update or delete (values are PostgreSQL text, None for NULL)."""

    table: str
    action: str
    key: tuple[tuple[str, str], ...] = ()  # insert: () when the database assigns the key
    values: tuple[tuple[str, str | None], ...] = ()  # insert: the columns given; update: set
    guard: str = ""  # update, delete: the fingerprint the row must still have
    guard_columns: tuple[str, ...] = ()  # the columns that fingerprint covers
    # delete: what the preview said the cascade touches, (table, action, rows)
    cascade: tuple[tuple[str, str, int], ...] = ()
    note: str = ""

    def described(self) -> dict[str, Any]:
        """Return the change as the audit trail records it (no values: see the statements);
        an update names the columns it sets (a revert must know when one is masked)."""
        described: dict[str, Any] = {
            "table": self.table,
            "action": self.action,
            "key": [list(pair) for pair in self.key],
            "note": self.note,
        }
        if self.action == "update":
            described["columns"] = [name for name, _ in self.values]
        return described


@dataclass(frozen=True)
class WritePlan:
    """Changes to one end-user's rows, in the order they run (parents before children)."""

    kind: str  # restore, edit, add, delete, revert
    subject: str
    changes: tuple[RowChange, ...]
    context: Mapping[str, Any] = field(default_factory=dict)  # branch, event… (JSON-safe)

    @property
    def tables(self) -> list[str]:
        return list(dict.fromkeys(change.table for change in self.changes))


@dataclass(frozen=True)
class ColumnType:
    type_sql: str
    identity: str = ""  # 'a' (always), 'd' (by default) or ''
    generated: str = ""  # 's' (stored) or ''


@dataclass
class WriteScope:
    """What the write role may do where: read from the target in the write's transaction."""

    owners: OwnershipMap
    subject: str
    role: str
    rls: frozenset[str]  # tables whose row-level security binds the write role
    columns: dict[str, dict[str, ColumnType]]  # per table, in column order


@dataclass(frozen=True)
class Statement:
    """One statement of a plan: the SQL that runs and the SQL shown (masked values hidden)."""

    sql: str
    shown: str
    index: int  # the change it carries out


@dataclass
class Preview:
    """A plan rendered for the operator: the statements, their digest, the scope they need."""

    plan: WritePlan
    statements: list[Statement]
    digest: str
    scope: WriteScope

    @property
    def rls_tables(self) -> list[str]:
        return [table for table in self.plan.tables if table in self.scope.rls]

    @property
    def predicate_tables(self) -> list[str]:
        return [table for table in self.plan.tables if table not in self.scope.rls]


@dataclass
class WriteError:
    """Why the database refused a statement: the sentence, and where it points."""

    sentence: str
    statement: int | None = None
    table: str = ""
    column: str = ""
    constraint: str = ""
    sqlstate: str = ""


@dataclass
class WriteOutcome:
    """What a write did: statements applied and skipped (with why), or the error."""

    write_id: str
    statements: list[Statement]
    applied: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)
    after: list[dict[str, Any]] = field(default_factory=list)
    error: WriteError | None = None
    intent: AuditEvent | None = None
    outcome: AuditEvent | None = None
    outcome_recorded: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None
