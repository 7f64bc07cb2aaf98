"""squawk's findings on a revision's SQL: find the binary, run it, map its JSON report."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from dashboard.history.review_models import DANGER, REVISION_WIDE, WARNING, Finding
from dashboard.history.review_statements import Statement, _short, _touches_version_table

logger = logging.getLogger(__name__)

SQUAWK_TIMEOUT_S = 30


def squawk_binary() -> str | None:
    """Return the squawk executable: SQUAWK_BINARY, next to this Python, or on PATH."""
    configured = str(getattr(settings, "SQUAWK_BINARY", "") or "")
    if configured:
        return configured if Path(configured).is_file() else None
    beside = Path(sys.executable).with_name("squawk")
    if beside.is_file():
        return str(beside)
    return shutil.which("squawk")


def _offset(sql: str, line: int, column: int) -> int:
    """Return the character offset of a 0-based (line, column) position."""
    lines = sql.splitlines(keepends=True)
    return sum(len(text) for text in lines[:line]) + column


def squawk_findings(
    sql: str, statements: list[Statement], version_table: str, pg_version: str = ""
) -> tuple[list[Finding], list[str]]:
    """Return squawk's findings on `sql` (and notes when squawk could not run)."""
    binary = squawk_binary()
    if not binary:
        return [], ["squawk was not found (install squawk-cli or set SQUAWK_BINARY)."]
    command = [binary, "--reporter", "json", "--stdin-filepath", "revision.sql"]
    if pg_version:
        command.append(f"--pg-version={pg_version}")
    try:
        out = subprocess.run(
            command,
            input=sql,
            capture_output=True,
            text=True,
            timeout=SQUAWK_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], [f"squawk did not run: {type(exc).__name__}"]
    try:
        reports = json.loads(out.stdout or "[]")
    except ValueError:
        logger.warning("squawk gave no JSON: %s", out.stderr[-500:])
        return [], [f"squawk failed: {(out.stderr or out.stdout).strip()[-300:]}"]
    findings = []
    for report in reports:
        position = _offset(sql, int(report.get("line", 0)), int(report.get("column", 0)))
        index = next(
            (n for n, s in enumerate(statements) if s.start <= position < s.end + 1),
            REVISION_WIDE,
        )
        text = statements[index].text if index != REVISION_WIDE else ""
        if text and _touches_version_table(text, version_table):
            continue  # Alembic's own bookkeeping, not the migration
        level = str(report.get("level", "")).lower()
        findings.append(
            Finding(
                source="squawk",
                rule=str(report.get("rule_name", "")),
                severity=DANGER if level == "error" else WARNING,
                message=str(report.get("message", "")),
                statement=_short(text),
                help=str(report.get("help") or ""),
                statement_index=index,
            )
        )
    return findings, []
