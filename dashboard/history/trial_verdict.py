"""What a trial run's result means, in words that do not mislead.

A trial with nothing pending ran nothing: "nothing to try", not "succeeded". A round trip
(upgrade, downgrade, upgrade again) whose downgrades do not give back the schema they started
from did not succeed either: that is its own outcome, and it names what differs, read from the
two `pg_dump --schema-only` texts. A column dropped and added back comes back at the end of
its table, and Postgres cannot move a column: when the column order is all that differs, the
outcome says so instead of calling the downgrade broken.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

SUCCEEDED = "succeeded"
FAILED = "failed"
NOTHING_PENDING = "nothing_pending"
ROUND_TRIP_DIFFERS = "round_trip_differs"
COLUMN_ORDER_DIFFERS = "column_order_differs"
OUTCOME_LABELS = {
    SUCCEEDED: "succeeded",
    FAILED: "failed",
    NOTHING_PENDING: "nothing to try",
    ROUND_TRIP_DIFFERS: "round trip differs",
    COLUMN_ORDER_DIFFERS: "column order differs",
}
# The badge class of each outcome (styled in app.css and history.css).
OUTCOME_BADGES = {
    SUCCEEDED: "ok",
    FAILED: "bad",
    NOTHING_PENDING: "",
    ROUND_TRIP_DIFFERS: "bad",
    COLUMN_ORDER_DIFFERS: "warn",
}

_CREATE_TABLE = re.compile(r"^CREATE (?:UNLOGGED )?TABLE (?P<name>\S+) \($")


@dataclass(frozen=True)
class SchemaComparison:
    """How two schema dumps differ: sentences naming each difference, and reordered tables."""

    differences: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)  # sentences, one per table

    @property
    def same(self) -> bool:
        return not self.differences and not self.reordered

    @property
    def column_order_only(self) -> bool:
        return not self.differences and bool(self.reordered)


def _statements(dump: str) -> list[str]:
    """Return the statements of a normalised dump, each as its lines joined by newlines."""
    statements, current = [], []
    for line in dump.splitlines():
        if not line.strip():
            continue
        current.append(line.rstrip())
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


def _tables(statements: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split statements into {table: column lines} and the other statements (one line each)."""
    tables: dict[str, list[str]] = {}
    others = []
    for statement in statements:
        lines = statement.splitlines()
        match = _CREATE_TABLE.match(lines[0])
        if match and lines[-1].startswith(")"):
            tables[match["name"]] = [line.strip().rstrip(",") for line in lines[1:-1]]
        else:
            others.append(" ".join(line.strip() for line in lines).rstrip(";"))
    return tables, others


def _short_name(table: str) -> str:
    return table.split(".", 1)[1] if table.startswith("public.") else table


def _column_name(line: str) -> str:
    return line.split(" ", 1)[0]


def _compare_columns(table: str, before: list[str], after: list[str]) -> tuple[list[str], str]:
    """Return (differences, reorder sentence) of one table's column lines."""
    name = _short_name(table)
    if Counter(before) == Counter(after):
        if before == after:
            return [], ""
        old = ", ".join(_column_name(line) for line in before)
        new = ", ".join(_column_name(line) for line in after)
        return [], (
            f"{name}: the columns are in another order ({new} instead of {old}). A column "
            "dropped and added back goes to the end of its table, and Postgres cannot move "
            "it back; this matters only to code that relies on column order (SELECT *, "
            "INSERT or COPY without a column list)."
        )
    before_by_name = {_column_name(line): line for line in before}
    after_by_name = {_column_name(line): line for line in after}
    differences = []
    for column, line in before_by_name.items():
        if column not in after_by_name:
            differences.append(f"{name}: {line} is missing")
        elif after_by_name[column] != line:
            differences.append(f"{name}: {line} became {after_by_name[column]}")
    for column, line in after_by_name.items():
        if column not in before_by_name:
            differences.append(f"{name}: {line} was left behind")
    return differences, ""


def compare_schemas(before: str, after: str) -> SchemaComparison:
    """Return how the schema dump `after` differs from `before`, in sentences."""
    before_tables, before_others = _tables(_statements(before))
    after_tables, after_others = _tables(_statements(after))
    differences: list[str] = []
    reordered: list[str] = []
    for table, columns in before_tables.items():
        if table not in after_tables:
            differences.append(f"table {_short_name(table)} is missing")
            continue
        changed, reorder = _compare_columns(table, columns, after_tables[table])
        differences.extend(changed)
        if reorder:
            reordered.append(reorder)
    differences.extend(
        f"table {_short_name(table)} was left behind"
        for table in after_tables
        if table not in before_tables
    )
    missing = Counter(before_others) - Counter(after_others)
    extra = Counter(after_others) - Counter(before_others)
    differences.extend(f"missing: {statement}" for statement in missing.elements())
    differences.extend(f"left behind: {statement}" for statement in extra.elements())
    return SchemaComparison(differences, reordered)


def trial_outcome(
    *,
    error: str,
    revisions: list[str],
    round_trip: bool,
    steps: list[dict],
    round_trip_differences: list[str],
    round_trip_reordered: list[str],
) -> str:
    """Return the outcome of a finished trial from what it recorded."""
    if error:
        return FAILED
    if not revisions:
        return NOTHING_PENDING
    if not round_trip:
        return SUCCEEDED
    if round_trip_differences or any(step.get("schema_mismatch") for step in steps):
        return ROUND_TRIP_DIFFERS
    if round_trip_reordered or any(step.get("column_order") for step in steps):
        return COLUMN_ORDER_DIFFERS
    return SUCCEEDED
