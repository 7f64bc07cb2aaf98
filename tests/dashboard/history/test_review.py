"""The review of one revision: one finding per problem per statement, whoever saw it, and the
script's own session settings understood."""

from __future__ import annotations

import pytest

from dashboard.history import tasks
from dashboard.history.models import RevisionSql
from dashboard.history.offline import ensure_revision_sql
from dashboard.history.project import load_project
from dashboard.history.review import review_revision
from dashboard.history.review_statements import split_statements
from dashboard.history.revisions import revision_named
from tests.dashboard.history.conftest import OFFLINE_TIMEOUTS, REVIEWED, write_project

pytestmark = pytest.mark.django_db


def _reviewed(revision_id: str) -> RevisionSql:
    """Generate and review a revision's SQL as the worker would; return the row."""
    project = load_project()
    row = ensure_revision_sql(project, revision_named(revision_id, project))
    tasks._revision_sql(row.job.pk, revision_sql_id=row.pk)
    row.refresh_from_db()
    assert row.status == RevisionSql.Status.READY, row.upgrade_error
    return row


def _statement(row: RevisionSql, finding: dict) -> str:
    return split_statements(row.upgrade_sql)[finding["statement_index"]].text


def test_one_finding_per_problem_per_statement(console_on, tmp_path, project_database):
    project = write_project(tmp_path / "reviewed", REVIEWED, offline_setup=OFFLINE_TIMEOUTS)
    console_on(project, project_database)
    row = _reviewed("002")
    assert row.upgrade_sql.index("SET lock_timeout = '5s'") < row.upgrade_sql.index("ALTER TABLE")
    # squawk alone says changing-column-type and prefer-text-field on the type change, and
    # ours said table-rewrite and lock-blocks-writes there: one problem, one finding.
    found = {(f["problem"], _statement(row, f)) for f in row.findings}
    assert found == {
        ("rewrite", "ALTER TABLE rv_items ALTER COLUMN name TYPE VARCHAR(200)"),
        ("index-lock", "CREATE INDEX ix_rv_items_name ON rv_items (name)"),
        ("drop-column", "ALTER TABLE rv_items DROP COLUMN note"),
    }
    assert len(row.findings) == 3
    rewrite = next(f for f in row.findings if f["problem"] == "rewrite")
    assert rewrite["source"] == "schemadesk" and "rv_items.name" in rewrite["message"]
    assert set(rewrite["also"]) == {"squawk: changing-column-type", "squawk: prefer-text-field"}
    assert rewrite["help"]  # with its fix
    # The script sets its lock_timeout before any lock: nobody asks for one.
    assert not any("lock_timeout" in f["message"] + f["help"] for f in row.findings)


def test_without_timeouts_the_missing_ones_are_said_once(console_on, tmp_path, project_database):
    project = write_project(tmp_path / "unprotected", REVIEWED)
    console_on(project, project_database)
    row = _reviewed("002")
    by_problem: dict[str, list[dict]] = {}
    for finding in row.findings:
        by_problem.setdefault(finding["problem"], []).append(finding)
    assert sorted(by_problem) == [
        "drop-column",
        "index-lock",
        "lock-timeout",
        "rewrite",
        "statement-timeout",
    ]
    assert all(len(found) == 1 for found in by_problem.values())
    (lock,) = by_problem["lock-timeout"]
    assert _statement(row, lock).startswith("ALTER TABLE rv_items ALTER COLUMN name")  # the first
    assert lock["also"] == ["squawk: require-lock-timeout"]


SOURCE = "def upgrade():\n    op.f()\n\n\ndef downgrade():\n    op.g()\n"


SESSION_PROBLEMS = {"lock-timeout", "statement-timeout", "concurrently-in-transaction"}


def _problems(sql: str) -> list[tuple[str, str]]:
    """Return (problem, statement) of the findings about the session (timeouts, blocks)."""
    statements = split_statements(sql)
    review = review_revision(sql, SOURCE)
    return [
        (f.problem, statements[f.statement_index].text)
        for f in review.findings
        if f.problem in SESSION_PROBLEMS
    ]


def test_a_lock_timeout_set_earlier_in_the_script_is_understood():
    assert (
        _problems(
            "SET lock_timeout = '5s';\nSET statement_timeout = '1min';\n"
            "BEGIN;\nALTER TABLE items ADD COLUMN x text;\nCOMMIT;\n"
        )
        == []
    )
    assert (
        _problems(
            "SELECT set_config('lock_timeout', '5s', false);\nSET statement_timeout = '1min';\n"
            "ALTER TABLE items ADD COLUMN x text;\n"
        )
        == []
    )


def test_a_timeout_that_is_not_in_effect_is_asked_for():
    # SET LOCAL outside a transaction block does nothing; 0 turns the timeout off.
    local = _problems(
        "SET LOCAL lock_timeout = '5s';\nSET statement_timeout = '1min';\n"
        "BEGIN;\nALTER TABLE items ADD COLUMN x text;\nCOMMIT;\n"
    )
    assert local == [("lock-timeout", "ALTER TABLE items ADD COLUMN x text")]
    zero = _problems(
        "SET lock_timeout = 0;\nSET statement_timeout = '1min';\n"
        "ALTER TABLE items ADD COLUMN x text;\n"
    )
    assert zero == [("lock-timeout", "ALTER TABLE items ADD COLUMN x text")]
    # A SET LOCAL protects its own block only: the second block is asked about.
    blocks = _problems(
        "SET statement_timeout = '1min';\n"
        "BEGIN;\nSET LOCAL lock_timeout = '5s';\nALTER TABLE a ADD COLUMN x text;\nCOMMIT;\n"
        "BEGIN;\nALTER TABLE b ADD COLUMN x text;\nCOMMIT;\n"
    )
    assert blocks == [("lock-timeout", "ALTER TABLE b ADD COLUMN x text")]


def test_concurrently_inside_a_transaction_block_is_a_danger_outside_it_is_fine():
    sql = (
        "SET lock_timeout = '5s';\nSET statement_timeout = '1min';\n"
        "BEGIN;\nCREATE INDEX CONCURRENTLY ix_a ON items (a);\nCOMMIT;\n"
        "CREATE INDEX CONCURRENTLY ix_b ON items (b);\n"
    )
    review = review_revision(sql, SOURCE)
    statements = split_statements(sql)
    (finding,) = [f for f in review.findings if f.problem in SESSION_PROBLEMS]
    assert finding.problem == "concurrently-in-transaction" and finding.severity == "danger"
    assert statements[finding.statement_index].text.startswith("CREATE INDEX CONCURRENTLY ix_a")
    assert "autocommit_block" in finding.help
