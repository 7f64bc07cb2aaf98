"""Review the upgrade SQL of one revision: squawk's findings plus our own checks.

Each pending revision is reviewed on its own (its `upgrade <parents>:<rev> --sql` output):
in one long script of the whole chain every table looks new and real findings vanish.
Our checks parse the SQL with pglast and look for what hurts a live database: data loss
(dropped tables and columns), table rewrites, locks that block writes, indexes built without
CONCURRENTLY, and a downgrade() that does nothing.
"""

from __future__ import annotations

import pglast

from dashboard.history.review_checks import downgrade_findings, sql_findings
from dashboard.history.review_models import (
    DANGER,
    INFO,
    SEVERITY_ORDER,
    WARNING,
    Finding,
    Review,
)
from dashboard.history.review_squawk import squawk_binary, squawk_findings
from dashboard.history.review_statements import Statement, split_statements

__all__ = [  # re-exported from the review_* modules, beside what is defined here
    "DANGER",
    "INFO",
    "SEVERITY_ORDER",
    "WARNING",
    "Finding",
    "Review",
    "Statement",
    "downgrade_findings",
    "review_revision",
    "severity_counts",
    "split_statements",
    "sql_findings",
    "squawk_binary",
    "squawk_findings",
]


def review_revision(
    upgrade_sql: str,
    script_source: str,
    *,
    version_table: str = "alembic_version",
    pg_version: str = "",
) -> Review:
    """Return the review of one revision: squawk's findings, then ours, most severe first."""
    notes: list[str] = []
    try:
        statements = split_statements(upgrade_sql)
    except pglast.parser.ParseError as exc:
        statements = []
        notes.append(f"The SQL could not be parsed, so only squawk checked it: {exc}")
    squawked, squawk_notes = squawk_findings(upgrade_sql, statements, version_table, pg_version)
    notes.extend(squawk_notes)
    ours = downgrade_findings(script_source) + sql_findings(statements, version_table)
    findings = sorted(squawked + ours, key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
    return Review(findings, notes)


def severity_counts(findings: list[dict[str, str]]) -> dict[str, int]:
    """Return how many findings there are of each severity."""
    counts = {DANGER: 0, WARNING: 0, INFO: 0}
    for finding in findings:
        counts[finding.get("severity", INFO)] = counts.get(finding.get("severity", INFO), 0) + 1
    return counts
