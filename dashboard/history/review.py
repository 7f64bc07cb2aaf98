"""Review the upgrade SQL of one revision: squawk's findings and ours, one per problem.

Each pending revision is reviewed on its own (its `upgrade <parents>:<rev> --sql` output):
in one long script of the whole chain every table looks new and real findings vanish.
Our checks parse the SQL with pglast and look for what hurts a live database: data loss
(dropped tables and columns), table rewrites, locks that block writes, indexes built without
CONCURRENTLY, a lock taken with no lock_timeout, and a downgrade() that does nothing.

squawk and our checks often see the same thing (a column type change is squawk's
changing-column-type and prefer-text-field and our table-rewrite): each rule names a problem,
and the findings of one problem on one statement become one finding, ours first (it names the
table and column), the other rules listed beside it. Both read the timeouts the script sets,
but squawk misses a set_config() and counts a SET LOCAL outside a transaction block, a SET
undone by ROLLBACK and a timeout of 0 as timeouts in effect: where the two disagree, the
session as review_session.py reads it wins.
"""

from __future__ import annotations

from dataclasses import replace

import pglast
from pglast import ast as pg
from pglast import enums

from dashboard.history.review_checks import (
    CONCURRENTLY_IN_TRANSACTION,
    DROP_COLUMN,
    DROP_TABLE,
    INDEX_LOCK,
    LOCK_TIMEOUT,
    NOT_NULL_SCAN,
    RENAME,
    REWRITE,
    STATEMENT_TIMEOUT,
    VALIDATION_SCAN,
    downgrade_findings,
    sql_findings,
)
from dashboard.history.review_models import (
    DANGER,
    INFO,
    SEVERITY_ORDER,
    WARNING,
    Finding,
    Review,
)
from dashboard.history.review_session import SessionState, session_states
from dashboard.history.review_squawk import squawk_findings
from dashboard.history.review_statements import Statement, split_statements

SQUAWK_PROBLEMS = {
    "ban-drop-table": DROP_TABLE,
    "ban-drop-column": DROP_COLUMN,
    "renaming-column": RENAME,
    "renaming-table": RENAME,
    "changing-column-type": REWRITE,
    "adding-field-with-default": REWRITE,
    "adding-serial-primary-key-field": REWRITE,
    "require-concurrent-index-creation": INDEX_LOCK,
    "disallowed-unique-constraint": INDEX_LOCK,
    "constraint-missing-not-valid": VALIDATION_SCAN,
    "adding-foreign-key-constraint": VALIDATION_SCAN,
    "adding-not-nullable-field": NOT_NULL_SCAN,
    "require-lock-timeout": LOCK_TIMEOUT,
    "require-timeout-settings": LOCK_TIMEOUT,
    "require-statement-timeout": STATEMENT_TIMEOUT,
    "ban-concurrent-index-creation-in-transaction": CONCURRENTLY_IN_TRANSACTION,
}
# Problems of the script as a whole: one finding, wherever each tool put it.
SCRIPT_WIDE_PROBLEMS = {LOCK_TIMEOUT, STATEMENT_TIMEOUT}


def _alters_column_type(statement: Statement | None) -> bool:
    node = statement.node if statement else None
    return isinstance(node, pg.AlterTableStmt) and any(
        isinstance(cmd, pg.AlterTableCmd) and cmd.subtype == enums.AlterTableType.AT_AlterColumnType
        for cmd in node.cmds or ()
    )


def squawk_problem(rule: str, statement: Statement | None) -> str:
    """Return the problem a squawk rule reports on `statement` (its own name when unmapped)."""
    if rule == "prefer-text-field" and _alters_column_type(statement):
        return REWRITE  # a varchar length change is the column type change's lock, again
    return SQUAWK_PROBLEMS.get(rule, rule)


def _already_in_effect(problem: str, state: SessionState | None) -> bool:
    if state is None:
        return False
    if problem == LOCK_TIMEOUT:
        return bool(state.lock_timeout)
    if problem == STATEMENT_TIMEOUT:
        return bool(state.statement_timeout)
    return False


def merged_findings(
    squawked: list[Finding],
    ours: list[Finding],
    statements: list[Statement],
    states: list[SessionState],
) -> list[Finding]:
    """Return one finding per problem per statement, most severe first, then in SQL order."""
    merged: list[Finding] = []
    where: dict[tuple[int, str], int] = {}
    script_wide: dict[str, int] = {}

    def add(finding: Finding) -> None:
        key = (finding.statement_index, finding.problem)
        position = where.get(key)
        if position is None and finding.problem in SCRIPT_WIDE_PROBLEMS:
            position = script_wide.get(finding.problem)
        if position is None:
            where[key] = len(merged)
            script_wide.setdefault(finding.problem, len(merged))
            merged.append(finding)
        else:
            merged[position] = merged[position].merged_with(finding)

    for finding in ours:
        add(finding)
    for finding in squawked:
        index = finding.statement_index
        statement = statements[index] if 0 <= index < len(statements) else None
        state = states[index] if 0 <= index < len(states) else None
        problem = squawk_problem(finding.rule, statement)
        if _already_in_effect(problem, state):
            continue
        add(replace(finding, problem=problem))
    return sorted(
        merged,
        key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.statement_index),
    )


def review_revision(
    upgrade_sql: str,
    script_source: str,
    *,
    version_table: str = "alembic_version",
    pg_version: str = "",
) -> Review:
    """Return the review of one revision: one finding per problem per statement."""
    notes: list[str] = []
    try:
        statements = split_statements(upgrade_sql)
    except pglast.parser.ParseError as exc:
        statements = []
        notes.append(f"The SQL could not be parsed, so only squawk checked it: {exc}")
    states = session_states(statements)
    squawked, squawk_notes = squawk_findings(upgrade_sql, statements, version_table, pg_version)
    notes.extend(squawk_notes)
    ours = downgrade_findings(script_source) + sql_findings(statements, version_table, states)
    return Review(merged_findings(squawked, ours, statements, states), notes)


def severity_counts(findings: list[dict[str, object]]) -> dict[str, int]:
    """Return how many findings there are of each severity."""
    counts = {DANGER: 0, WARNING: 0, INFO: 0}
    for finding in findings:
        severity = str(finding.get("severity", INFO))
        counts[severity] = counts.get(severity, 0) + 1
    return counts
