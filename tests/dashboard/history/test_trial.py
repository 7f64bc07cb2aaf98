"""Trial runs end to end: a real branch from the local provider, real migrations on it."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings

from core.embedded import OWNER_ROLE
from dashboard.audit.models import AuditEvent
from dashboard.branches.local_provider import LocalProvider
from dashboard.history import tasks
from dashboard.history.models import TrialRun
from dashboard.jobs.models import JobRun
from tests.dashboard.history.conftest import migrate, owner_url
from tests.pgbouncer import PgBouncer, leftover_settings
from tests.pgplugin import TEST_DATABASE, running_layout

pytestmark = pytest.mark.django_db


def _columns(dbname: str) -> list[str]:
    with psycopg.connect(owner_url(dbname)) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'hist_items' ORDER BY ordinal_position"
        ).fetchall()
    return [row[0] for row in rows]


def _branches(dbname: str) -> list[str]:
    return [
        branch.id
        for branch in LocalProvider(owner_url(dbname), secret="test-secret").list_branches()
    ]


def _run(trial: TrialRun) -> TrialRun:
    """Run the queued job body here, as the worker would, and return the refreshed trial."""
    assert trial.job is not None
    tasks._trial(trial.job.pk, trial_id=trial.pk)
    trial.refresh_from_db()
    return trial


def test_trial_run_with_round_trip_end_to_end(
    console_on, numbered_project, project_database, engineer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "001")
    response = engineer_client.post(
        "/migrations/trials/start", {"round_trip": "on"}, **htmx_headers
    )
    assert response.status_code == 200
    trial = TrialRun.objects.get()
    assert trial.round_trip and not trial.keep_branch
    assert b"queued" in response.content  # the progress partial, polling
    assert b'hx-trigger="every 1s"' in response.content
    event = AuditEvent.objects.get(action="migrations.trial_run")
    assert event.operator_name == "eve-engineer" and event.detail["round_trip"] is True

    trial = _run(trial)
    assert trial.succeeded is True, trial.error
    # 003's downgrade adds `note` back at the end of the table, after `price`: the schema is
    # given back but for the column order, which Postgres cannot change. That is said as such,
    # not as a downgrade that does not give back its schema.
    assert trial.outcome == trial.status == "column_order_differs"
    assert trial.starting_heads == ["001"]
    assert trial.revisions == ["002", "003"]
    assert [(s["direction"], s["revision"]) for s in trial.steps] == [
        ("upgrade", "002"),
        ("upgrade", "003"),
        ("downgrade", "003"),
        ("downgrade", "002"),
        ("upgrade", "002"),
        ("upgrade", "003"),
    ]
    assert all(step["ok"] and step["seconds"] > 0 for step in trial.steps)
    assert not any(step.get("schema_mismatch") for step in trial.steps)
    downgrade_003 = trial.steps[2]
    assert downgrade_003["column_order"] == [
        next(s for s in downgrade_003["column_order"] if s.startswith("hist_items: the columns"))
    ]
    assert (
        "(id, name, price, note instead of id, name, note, price)"
        in (downgrade_003["column_order"][0])
    )
    assert "Running upgrade 002 -> 003" in trial.steps[1]["output"]
    # What the migrations did to the branch's schema:
    assert "+    price numeric" in trial.schema_diff
    assert "-    note text" in trial.schema_diff
    assert "CREATE INDEX ix_hist_items_name" in trial.schema_diff
    assert trial.round_trip_diff == ""  # the downgrades restored the schema exactly
    # The branch is gone and production was not touched.
    assert trial.branch_deleted and _branches(project_database) == []
    assert _columns(project_database) == ["id", "name", "note"]
    run = JobRun.objects.get(pk=trial.job.pk)
    assert run.status == JobRun.Status.SUCCEEDED
    assert any("Creating branch" in line["message"] for line in run.progress)

    page = engineer_client.get(f"/migrations/trials/{trial.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<html" in text and "Trial run #" in text
    assert 'data-status="column_order_differs"' in text and "column order differs" in text
    assert "only the order of the columns differs" in text
    assert "After the downgrade of 003: hist_items: the columns are in another order" in text
    assert "does not give back the schema" not in text and "restored the schema exactly" not in text
    assert 'class="add">+    price numeric' in text
    partial = engineer_client.get(f"/migrations/trials/{trial.pk}/", **htmx_headers)
    assert b"<html" not in partial.content
    assert b'data-status="column_order_differs"' in partial.content
    assert b"every 1s" not in partial.content  # finished: no more polling


def test_a_failing_migration_names_the_revision_and_the_error(
    console_on, broken_project, project_database
):
    console_on(broken_project, project_database)
    from dashboard.history.trial import start_trial

    trial = _run(start_trial(None))
    assert trial.succeeded is False
    assert trial.failed_revision == "002"
    assert "Upgrade of 002 failed" in trial.error
    assert 'relation "hist_no_such_table" does not exist' in trial.error
    assert [(s["revision"], s["ok"]) for s in trial.steps] == [("001", True), ("002", False)]
    assert "hist_no_such_table" in trial.steps[-1]["output"]
    assert trial.branch_deleted and _branches(project_database) == []
    run = JobRun.objects.get(pk=trial.job.pk)
    assert run.status == JobRun.Status.FAILED
    assert "002" in run.error
    # The target never saw any of it.
    with psycopg.connect(owner_url(project_database)) as conn:
        assert conn.execute("SELECT to_regclass('hist_things')").fetchone() == (None,)


def test_a_kept_branch_stays_with_an_expiry(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    from dashboard.history.trial import start_trial

    trial = _run(start_trial(None, keep_branch=True, schema_only=True))
    assert trial.succeeded is True, trial.error
    assert trial.revisions == ["003"]  # the target's version was carried over
    progress = [line["message"] for line in JobRun.objects.get(pk=trial.job.pk).progress]
    assert "Schema-only branch: version set to 002" in progress
    provider = LocalProvider(owner_url(project_database), secret=settings.SECRET_KEY)
    branch = provider.get_branch(trial.branch_id)
    assert branch.expires_at is not None and branch.extra["schema_only"] is True
    assert not trial.branch_deleted
    with psycopg.connect(provider.connection_urls(branch.id).direct) as conn:
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert versions == [("003",)]


def test_nothing_pending_is_nothing_to_try(
    console_on, numbered_project, project_database, engineer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "head")
    from dashboard.history.trial import start_trial

    trial = _run(start_trial(None, round_trip=True))
    assert trial.steps == [] and trial.revisions == []
    assert trial.outcome == trial.status == "nothing_pending"  # not "succeeded"
    assert _branches(project_database) == []
    for response in (
        engineer_client.get(f"/migrations/trials/{trial.pk}/"),
        engineer_client.get(f"/migrations/trials/{trial.pk}/", **htmx_headers),
    ):
        text = response.content.decode()
        assert 'data-status="nothing_pending">nothing to try<' in text
        assert "Nothing to try: the branch was already at the scripts' head (003)" in text
        assert "succeeded" not in text and "clean" not in text and "Schema difference" not in text
    listed = engineer_client.get("/migrations/trials/").content.decode()
    assert 'data-status="nothing_pending">nothing to try<' in listed


def test_a_run_recorded_before_outcomes_with_nothing_run_is_not_a_success():
    from dashboard.history.models import TrialRun

    assert TrialRun(succeeded=True, revisions=[]).status == "nothing_pending"
    assert TrialRun(succeeded=True, revisions=["002"]).status == "succeeded"


def test_a_round_trip_whose_schema_differs_names_what_differs(
    console_on, tmp_path, project_database, engineer_client
):
    from dashboard.history.trial import start_trial
    from tests.dashboard.history.conftest import NUMBERED, Rev, write_project

    # 002's downgrade leaves its index behind; the upgrade tolerates that, so nothing fails.
    lenient = Rev(
        "002",
        "001",
        upgrade='op.execute("CREATE INDEX IF NOT EXISTS ix_hist_items_note ON hist_items (note)")',
        downgrade='op.execute("SELECT 1")',
        message="Index the note",
    )
    project = write_project(tmp_path / "lenient", [NUMBERED[0], lenient])
    console_on(project, project_database)
    migrate(project, project_database, "001")

    trial = _run(start_trial(None, round_trip=True))
    assert trial.error == "" and trial.succeeded is True  # every step ran
    assert trial.outcome == trial.status == "round_trip_differs"  # but it did not succeed
    left = "left behind: CREATE INDEX ix_hist_items_note ON public.hist_items USING btree (note)"
    assert trial.round_trip_comparison["differences"] == [left]
    (downgrade,) = [s for s in trial.steps if s["direction"] == "downgrade"]
    assert (
        downgrade["differences"] == [left] and "ix_hist_items_note" in downgrade["schema_mismatch"]
    )
    text = engineer_client.get(f"/migrations/trials/{trial.pk}/").content.decode()
    assert 'data-status="round_trip_differs">round trip differs<' in text
    assert "The downgrades do not give back the schema the migrations started from" in text
    assert f"<li>{left}</li>" in text
    assert "restored the schema exactly" not in text


def test_trial_runs_need_the_engineer_role(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    response = viewer_client.post("/migrations/trials/start", {})
    assert response.status_code == 403
    assert TrialRun.objects.count() == 0


def test_round_trip_names_the_revision_whose_downgrade_is_incomplete(
    console_on, tmp_path, project_database
):
    from dataclasses import replace

    from dashboard.history.trial import start_trial
    from tests.dashboard.history.conftest import NUMBERED, write_project

    # 003's downgrade forgets to drop the index it made.
    sloppy = replace(
        NUMBERED[2], downgrade='op.add_column("hist_items", sa.Column("note", sa.Text))'
    )
    project = write_project(tmp_path / "sloppy", [NUMBERED[0], NUMBERED[1], sloppy])
    console_on(project, project_database)
    migrate(project, project_database, "001")

    trial = _run(start_trial(None, round_trip=True))
    downgrades = {s["revision"]: s for s in trial.steps if s["direction"] == "downgrade"}
    assert "ix_hist_items_name" in downgrades["003"]["schema_mismatch"]
    assert "schema_mismatch" not in downgrades["002"]  # the leftover is blamed once, on 003
    assert "+CREATE INDEX ix_hist_items_name" in trial.round_trip_diff
    # The re-upgrade of 003 then trips over the index its downgrade left behind.
    assert trial.succeeded is False and trial.failed_revision == "003"
    assert 'relation "ix_hist_items_name" already exists' in trial.error
    assert "+    price numeric" in trial.schema_diff  # the difference is still recorded


def test_version_reads_and_stamps_leave_no_setting_on_a_pooled_connection():
    from dashboard.history.trial import branch_versions, stamp_branch

    password = running_layout().passwords[OWNER_ROLE]
    with PgBouncer(running_layout().port, {OWNER_ROLE: password}) as bouncer:
        url = bouncer.url(OWNER_ROLE, password, TEST_DATABASE)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.hist_stamp_probe (version_num text)")
        try:
            stamp_branch(url, "public", "hist_stamp_probe", ("001", "002"))
            assert leftover_settings(url) == {}
            assert branch_versions(url, "public", "hist_stamp_probe") == ("001", "002")
            assert leftover_settings(url) == {}
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE public.hist_stamp_probe")
