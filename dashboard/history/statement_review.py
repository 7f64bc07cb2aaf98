"""The revision page's review: the upgrade SQL statement by statement, each with its findings
and what it locks, under the revision's summary with the target's table sizes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pglast
from django.utils.safestring import SafeString
from pglast import ast as pg
from sqlalchemy import Connection

from dashboard.history.review_locks import LockReader, TableLock
from dashboard.history.review_models import SEVERITY_ORDER
from dashboard.history.review_session import SessionState, session_states
from dashboard.history.review_statements import (
    Statement,
    _bare,
    _touches_version_table,
    split_statements,
)
from dashboard.history.review_summary import (
    BYTES_PER_SECOND,
    RevisionSummary,
    TableSize,
    revision_summary,
    with_sizes,
)
from dashboard.queries.sqlformat import highlight_sql
from dashboard.schema.catalog_schema import table_sizes, tables
from dashboard.target import TargetError, run_read, target_schema

logger = logging.getLogger(__name__)

CHANGE, SETTING, TRANSACTION, BOOKKEEPING = "change", "setting", "transaction", "bookkeeping"
SIZE_TIMEOUT_MS = 2000


@dataclass
class ReviewedStatement:
    """One statement of the upgrade SQL with what the review says about it."""

    index: int
    text: str
    html: SafeString
    kind: str
    state: SessionState
    locks: list[TableLock] = field(default_factory=list)
    findings: list[dict[str, object]] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def anchor(self) -> str:
        return f"statement-{self.number}"


@dataclass
class StatementReview:
    """The upgrade SQL reviewed statement by statement, and the revision's summary."""

    statements: list[ReviewedStatement]
    revision_findings: list[dict[str, object]]  # about the whole revision, not one statement
    summary: RevisionSummary | None
    sizes_note: str = ""


def _kind(statement: Statement, version_table: str) -> str:
    node = statement.node
    if _touches_version_table(statement.text, version_table):
        return BOOKKEEPING
    if isinstance(node, pg.TransactionStmt):
        return TRANSACTION
    if isinstance(node, pg.VariableSetStmt) or (
        isinstance(node, pg.SelectStmt) and "set_config" in statement.text.lower()
    ):
        return SETTING
    return CHANGE


def _by_severity(findings: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(findings, key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 9))


def target_table_sizes(names: list[str]) -> dict[str, TableSize]:
    """Return the size of each named table of the target schema that exists (by bare name)."""
    schema = target_schema()
    wanted = sorted(
        {_bare(name) for name in names if "." not in name or name.startswith(f"{schema}.")}
    )
    if not wanted:
        return {}

    def read(conn: Connection) -> dict[str, TableSize]:
        estimates = {str(row["name"]): row["estimated_rows"] for row in tables(conn, schema)}
        found = table_sizes(conn, schema, wanted)
        sizes = {}
        for name, row in found.items():
            estimate = estimates.get(name)
            sizes[name] = TableSize(
                rows=int(estimate) if estimate is not None and int(estimate) >= 0 else None,
                total_bytes=int(row["total_bytes"] or 0),
                index_bytes=int(row["index_bytes"] or 0),
            )
        return sizes

    return run_read(read, timeout_ms=SIZE_TIMEOUT_MS, lock_timeout_ms=SIZE_TIMEOUT_MS)


def statement_review(
    upgrade_sql: str,
    findings: list[dict[str, object]],
    version_table: str,
    *,
    bytes_per_second: int = BYTES_PER_SECOND,
) -> StatementReview:
    """Return the upgrade SQL's statements with their findings and locks, and the summary."""
    try:
        statements = split_statements(upgrade_sql)
    except pglast.parser.ParseError:
        return StatementReview([], _by_severity(findings), None)
    states = session_states(statements)
    reader = LockReader()
    reviewed = []
    for index, (statement, state) in enumerate(zip(statements, states, strict=True)):
        kind = _kind(statement, version_table)
        effect = reader.read(statement.node)
        reviewed.append(
            ReviewedStatement(
                index=index,
                text=statement.text,
                html=highlight_sql(statement.text + ";"),
                kind=kind,
                state=state,
                locks=effect.locks if kind == CHANGE else [],
            )
        )
    revision_wide = []
    for finding in findings:
        position = finding.get("statement_index")
        if isinstance(position, int) and 0 <= position < len(reviewed):
            reviewed[position].findings.append(finding)
        else:
            revision_wide.append(finding)
    for read in reviewed:
        read.findings = _by_severity(read.findings)
    summary = revision_summary(statements, states, version_table)
    note = ""
    try:
        sizes = target_table_sizes(summary.tables)
    except TargetError as exc:
        sizes, note = {}, f"Table sizes are not known: {exc.sentence}"
    return StatementReview(
        reviewed,
        _by_severity(revision_wide),
        with_sizes(summary, sizes, bytes_per_second=bytes_per_second),
        note,
    )
