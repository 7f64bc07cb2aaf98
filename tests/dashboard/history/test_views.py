"""The Migrations pages: full pages and their htmx partials, errors as sentences."""

from __future__ import annotations

import html
import re

import psycopg
import pytest

from dashboard.history import tasks
from dashboard.history.models import RevisionSql
from tests.dashboard.history.conftest import migrate, stamp
from tests.dashboard.target_statements import page_statements

pytestmark = pytest.mark.django_db


def _statement_item(page: str, sql_start: str) -> str:
    """Return the <li> of the reviewed statement whose SQL starts with `sql_start`."""
    for item in page.split('<li class="stmt')[1:]:
        code = item[item.index('class="source stmt-code"') :] if "stmt-code" in item else ""
        plain = re.sub(r"<[^>]+>", "", code.split(">", 1)[1] if code else "")
        if html.unescape(plain).startswith(sql_start):
            return item.split("</li>", 1)[0]
    raise AssertionError(f"no reviewed statement starts with {sql_start!r}")


def _run_queued_sql_jobs() -> None:
    for row in RevisionSql.objects.filter(status=RevisionSql.Status.PENDING):
        tasks._revision_sql(row.job_id, revision_sql_id=row.pk)


def test_index_shows_state_pending_history_and_graph(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "001")
    response = viewer_client.get("/migrations/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="db-heads"><a href="/migrations/revisions/001/">001</a>' in text
    assert 'data-status="behind"' in text and "2 revisions pending: review them" in text
    # Pending, in run order, being reviewed (and polled until the reviews are done).
    pending = text[
        text.index('id="pending"') : text.index("</section>", text.index('id="pending"'))
    ]
    assert pending.index('data-revision="002"') < pending.index('data-revision="003"')
    assert "reviewing…" in pending and 'hx-trigger="every 1s"' in pending
    # History newest first, with the date from the Create Date line, and the SVG graph.
    history = text[text.index('id="history"') :]
    assert history.index('data-revision="003"') < history.index('data-revision="001"')
    assert '<time datetime="2025-02-03T09:00:00+00:00" title="2025-02-03 09:00:00 UTC">' in history
    assert '<svg class="revgraph"' in history and "<script" not in text.split("</head>")[1]
    assert 'style="' not in text  # CSP: no inline styles
    # Applying is off by default: the exact command is shown instead.
    assert "MIGRATIONS_APPLY_ENABLED=false" in text
    assert f"alembic -c {numbered_project.ini} upgrade 003" in text
    assert "HISTORY_PROJECT_URL=" in text and "USER:PASSWORD@" in text
    assert 'id="apply-command"' in text and 'data-copy="apply-command"' in text
    # The drift check is loaded lazily by htmx.
    assert 'hx-get="/migrations/?part=drift"' in text


def test_pending_partial_shows_findings_once_reviewed(
    console_on, numbered_project, project_database, viewer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    viewer_client.get("/migrations/")  # queues the SQL of the pending revision
    _run_queued_sql_jobs()
    response = viewer_client.get("/migrations/?part=pending", **htmx_headers)
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and text.lstrip().startswith('<section class="card" id="pending"')
    assert 'data-revision="003"' in text
    assert "1 danger" in text  # the dropped column
    assert "every 1s" not in text  # nothing left to poll for


def test_drift_partial(console_on, numbered_project, project_database, viewer_client, htmx_headers):
    console_on(numbered_project, project_database)
    response = viewer_client.get("/migrations/?part=drift", **htmx_headers)
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and 'id="drift"' in text
    assert "hx-get" not in text  # the result, not the placeholder again


def test_several_heads_in_the_scripts_are_warned_about(
    console_on, tmp_path, project_database, viewer_client
):
    from tests.dashboard.history.conftest import BRANCHED, write_project

    project = write_project(tmp_path / "two-heads", BRANCHED[:4])  # no merge yet
    console_on(project, project_database)
    stamp(project, project_database, "2b3c4d5e6f70")
    text = viewer_client.get("/migrations/").content.decode()
    assert 'id="multiple-heads"' in text and "alembic merge heads" in text
    assert "branch point" in text


def test_database_ahead_of_the_scripts(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    stamp(numbered_project, project_database, "0042")
    text = viewer_client.get("/migrations/").content.decode()
    assert "the database is ahead of this code, or scripts are missing" in text
    assert "deploy the code that has it before applying anything" in text


def test_revision_page_full_then_sql_partial(
    console_on, numbered_project, project_database, viewer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    response = viewer_client.get("/migrations/revisions/003/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Drop the note, index the name" in text
    assert "Create Date: 2025-02-03 09:00:00.000000" in text  # the docstring
    assert 'class="source"' in text and '<span class="k">def</span>' in text  # Pygments classes
    assert 'style="' not in text
    assert 'id="revision-status">pending' in text
    assert "generating" in text and 'hx-trigger="every 1s"' in text
    _run_queued_sql_jobs()
    partial = viewer_client.get("/migrations/revisions/003/", **htmx_headers)
    assert partial.status_code == 200
    body = partial.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="revision-sql"')
    assert "every 1s" not in body
    # Each finding under the statement it concerns, squawk's rule for it beside ours.
    drop = _statement_item(body, "ALTER TABLE hist_items DROP COLUMN note")
    assert 'data-rule="drop-column"' in drop and "squawk: ban-drop-column" in drop
    assert 'data-rule="index-without-concurrently"' in _statement_item(body, "CREATE INDEX")
    plain = html.unescape(re.sub(r"<[^>]+>", "", body))
    assert "DROP COLUMN note" in plain and "ix_hist_items_name" in plain  # highlighted SQL
    assert "alembic upgrade 002:003 --sql" in body


def test_applied_revision_page(console_on, numbered_project, project_database, viewer_client):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    text = viewer_client.get("/migrations/revisions/001/").content.decode()
    assert 'id="revision-status">applied' in text
    assert "nothing (a base revision)" in text
    assert '<a href="/migrations/">Migrations</a>' in text
    assert '<span aria-current="page">Revision 001</span>' in text  # the crumb names the page


def test_unknown_revision_is_a_404_with_a_sentence(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    response = viewer_client.get("/migrations/revisions/nope/")
    assert response.status_code == 404
    assert "There is no revision &#x27;nope&#x27; in the migration scripts" in (
        response.content.decode()
    )


def test_missing_configuration_is_explained(settings, viewer_client):
    settings.ALEMBIC_CONFIG = "/srv/nowhere/alembic.ini"
    response = viewer_client.get("/migrations/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "The Alembic project could not be loaded" in text
    assert "ALEMBIC_CONFIG points to /srv/nowhere/alembic.ini, which is not a file" in text
    revision = viewer_client.get("/migrations/revisions/001/")
    assert "ALEMBIC_CONFIG points to /srv/nowhere/alembic.ini" in revision.content.decode()


def test_env_py_import_error_is_shown_on_the_revision_page(
    console_on, unimportable_project, project_database, viewer_client, htmx_headers
):
    console_on(unimportable_project, project_database)
    viewer_client.get("/migrations/revisions/001/")
    _run_queued_sql_jobs()
    body = viewer_client.get("/migrations/revisions/001/", **htmx_headers).content.decode()
    assert "The upgrade SQL could not be generated" in body
    assert "No module named &#x27;schemadesk_missing_dependency&#x27;" in body


def test_regenerate_needs_engineer_and_queues_again(
    console_on, unimportable_project, project_database, viewer_client, engineer_client
):
    console_on(unimportable_project, project_database)
    viewer_client.get("/migrations/revisions/001/")
    _run_queued_sql_jobs()
    row = RevisionSql.objects.get()
    assert viewer_client.post("/migrations/revisions/001/regenerate").status_code == 403
    response = engineer_client.post("/migrations/revisions/001/regenerate")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == RevisionSql.Status.PENDING


def test_trials_list(console_on, numbered_project, project_database, viewer_client):
    console_on(numbered_project, project_database)
    from dashboard.history.models import TrialRun

    TrialRun.objects.create(project="x" * 16, succeeded=True)
    response = viewer_client.get("/migrations/trials/")
    assert response.status_code == 200
    assert b"No trial run yet" in response.content  # another project's runs are not listed


def _tag(page: str, marker: str) -> str:
    """Return the opening tag that contains `marker`."""
    at = page.index(marker)
    return page[page.rindex("<", 0, at) : page.index(">", at) + 1]


def test_revision_review_statement_by_statement_with_summary(
    console_on, tmp_path, project_database, viewer_client, htmx_headers
):
    from tests.dashboard.history.conftest import (
        OFFLINE_TIMEOUTS,
        REVIEWED,
        owner_url,
        write_project,
    )

    project = write_project(tmp_path / "reviewed", REVIEWED, offline_setup=OFFLINE_TIMEOUTS)
    console_on(project, project_database)
    migrate(project, project_database, "001")
    with psycopg.connect(owner_url(project_database), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO rv_items (id, name, note) "
            "SELECT g, 'item ' || g, repeat('n', 200) FROM generate_series(1, 3000) AS g"
        )
        # VACUUM makes the free space and visibility maps now: an autovacuum that made them
        # later would grow the size between this read and the page's.
        conn.execute("VACUUM (ANALYZE) rv_items")
        rows, size = conn.execute(
            "SELECT reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
            "WHERE oid = 'rv_items'::regclass"
        ).fetchone()
    viewer_client.get("/migrations/revisions/002/")
    _run_queued_sql_jobs()
    full = viewer_client.get("/migrations/revisions/002/").content.decode()
    partial = viewer_client.get("/migrations/revisions/002/", **htmx_headers).content.decode()
    assert "<html" in full and "<html" not in partial
    for page in (full, partial):
        assert 'style="' not in page
        # The summary: what it locks, in which mode, for how long, and what is one-way.
        assert 'id="summary-lock-timeout">lock_timeout 5s<' in page
        lock = _tag(page, 'data-table="rv_items"')
        assert 'data-mode="ACCESS EXCLUSIVE"' in lock and 'data-work="rewrite"' in lock
        assert f'data-rows="{rows}"' in lock and f'data-bytes="{size}"' in lock
        assert "Drops column rv_items.note and its values" in page
        # One finding per problem, under the statement it concerns, with its fix.
        change = _statement_item(page, "ALTER TABLE rv_items ALTER COLUMN name TYPE")
        assert change.count('class="finding ') == 1 and 'data-problem="rewrite"' in change
        assert "squawk: changing-column-type" in change and "Fix:" in change
        assert "ACCESS EXCLUSIVE on rv_items · rewrite" in change
        added = _statement_item(page, "ALTER TABLE rv_items ADD COLUMN price")
        assert 'data-findings="0"' in added and "No finding." in added
        assert page.count('class="finding ') == 3
        # Each statement, the whole upgrade and downgrade SQL can be copied.
        number = re.search(r'id="(statement-\d+)-sql"', change)
        assert number and f'data-copy="{number.group(1)}-sql"' in change
        for target in ("upgrade-sql-text", "downgrade-sql-text"):
            assert f'id="{target}"' in page and f'data-copy="{target}"' in page


def _trial_of(project_key: str, **fields: object):
    from django.utils import timezone

    from dashboard.history.models import TrialRun

    steps = [
        {"revision": "003", "direction": "upgrade", "ok": True, "seconds": 0.4},
        {
            "revision": "003",
            "direction": "downgrade",
            "ok": True,
            "seconds": 0.2,
            "column_order": ["hist_items: the columns are in another order (…)"],
        },
    ]
    values = {
        "project": project_key,
        "revisions": ["003"],
        "steps": steps,
        "succeeded": True,
        "outcome": "column_order_differs",
        "round_trip": True,
        "finished_at": timezone.now(),
        **fields,
    }
    return TrialRun.objects.create(**values)


def test_revision_page_shows_its_last_trial_and_offers_one(
    console_on, numbered_project, project_database, viewer_client, engineer_client
):
    from dashboard.history.project import load_project

    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    older = _trial_of(load_project().key, outcome="failed", succeeded=False)
    trial = _trial_of(load_project().key)
    for client, may in ((viewer_client, False), (engineer_client, True)):
        text = client.get("/migrations/revisions/003/").content.decode()
        part = text[text.index('id="revision-trial"') : text.index('id="source"')]
        assert f"trial run #{trial.pk}" in part and f"#{older.pk}" not in part  # the newest
        assert 'data-status="column_order_differs">column order differs<' in part
        assert 'data-direction="downgrade"' in part and "column order differs" in part
        assert (f'href="/migrations/trials/{trial.pk}/"' in part) is may
        assert ('action="/migrations/trials/start"' in part) is may
    # A revision no trial has run, and one already applied.
    text = engineer_client.get("/migrations/revisions/001/").content.decode()
    assert "No trial run has run this revision yet." in text
    assert "The database already has this revision" in text
    assert 'action="/migrations/trials/start"' not in text


def test_trial_links_only_for_those_who_may_open_them(
    console_on, numbered_project, project_database, viewer_client, engineer_client
):
    from dashboard.history.project import load_project

    console_on(numbered_project, project_database)
    trial = _trial_of(load_project().key)
    link = f'href="/migrations/trials/{trial.pk}/"'
    for url in ("/migrations/", "/migrations/trials/"):
        seen = viewer_client.get(url).content.decode()
        assert f"#{trial.pk}" in seen and link not in seen
        assert 'data-status="column_order_differs">column order differs<' in seen
        assert link in engineer_client.get(url).content.decode()
    assert viewer_client.get(f"/migrations/trials/{trial.pk}/").status_code == 403
    page = engineer_client.get(f"/migrations/trials/{trial.pk}/").content.decode()
    assert '<a href="/migrations/trials/">Trial runs</a>' in page
    assert f'<span aria-current="page">Trial run #{trial.pk}</span>' in page


def test_revision_review_without_the_database_says_sizes_are_unknown(
    console_on, numbered_project, project_database, viewer_client, settings, monkeypatch
):
    from dashboard.target import reset_engine

    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    viewer_client.get("/migrations/revisions/003/")
    _run_queued_sql_jobs()
    monkeypatch.setenv("HISTORY_DOWN_TARGET_URL", "postgresql://u:pw@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "HISTORY_DOWN_TARGET_URL"}
    reset_engine()
    response = viewer_client.get("/migrations/revisions/003/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Table sizes are not known:" in text
    row = text[text.index('<tr data-table="hist_items"') :].split("</tr>", 1)[0]
    assert "data-rows" not in row and ">not known<" in row
    assert "Drops column hist_items.note" in text  # the rest of the review is there


def test_a_long_history_is_shown_a_page_at_a_time_with_its_part_of_the_graph(
    console_on, project_database, viewer_client, htmx_headers, tmp_path, monkeypatch
):
    from dashboard.history import revisions
    from dashboard.history.services import HISTORY_PAGE_SIZE
    from tests.dashboard.history.conftest import Rev, write_project

    count = 2 * HISTORY_PAGE_SIZE + 20
    ids = [f"{number:03d}" for number in range(count)]
    project = write_project(
        tmp_path / "long", [Rev(rev, ids[n - 1] if n else None) for n, rev in enumerate(ids)]
    )
    console_on(project, project_database)
    read: list[str] = []
    real = revisions.revision_from_script
    monkeypatch.setattr(
        revisions,
        "revision_from_script",
        lambda script: read.append(script.revision) or real(script),
    )
    text = viewer_client.get("/migrations/").content.decode()
    assert f"{count} revisions" in text
    history = text[text.index('id="history"') :]
    shown = [n for n in range(count) if f'data-revision="{ids[n]}"' in history]
    assert shown == list(range(count - HISTORY_PAGE_SIZE, count))  # the newest 50
    assert history.count('class="graph-link"') == HISTORY_PAGE_SIZE
    assert 'viewBox="0 0 ' in history
    assert f"Revisions 1 to 50 of {count} (page 1 of 3)" in history
    assert 'hx-get="?page=2&amp;part=history"' in history and 'href="?page=2"' in history
    last = viewer_client.get("/migrations/?page=3&part=history", **htmx_headers).content.decode()
    assert last.lstrip().startswith("{% partialdef") is False and "<html" not in last
    assert [n for n in range(count) if f'data-revision="{ids[n]}"' in last] == list(range(20))
    assert last.count('class="graph-link"') == 20 and 'viewBox="0 0 ' not in last
    viewer_client.get("/migrations/revisions/010/")
    assert sorted(read) == sorted(ids)  # every script read once for all these pages


def test_the_index_sends_as_many_statements_for_twice_the_revisions(
    console_on, project_database, viewer_client, tmp_path
):
    from dashboard.history.services import HISTORY_PAGE_SIZE, PENDING_REVIEW_LIMIT
    from tests.dashboard.history.conftest import Rev, write_project

    counts = {}
    # 12 pending as in the benchmark's database, then twice the history and twice the pending
    for count, behind in ((HISTORY_PAGE_SIZE + 10, 12), (2 * (HISTORY_PAGE_SIZE + 10), 24)):
        ids = [f"{number:03d}" for number in range(count)]
        project = write_project(
            tmp_path / f"history-{count}",
            [Rev(rev, ids[n - 1] if n else None) for n, rev in enumerate(ids)],
        )
        console_on(project, project_database)
        stamp(project, project_database, ids[count - 1 - behind])
        viewer_client.get("/migrations/")  # the scripts loaded; each pending review queued
        with page_statements() as (target, console):
            text = viewer_client.get("/migrations/").content.decode()
        assert f"{behind} revisions pending" in text
        assert text.count("waiting for the worker") == behind  # each review's job was read
        counts[count] = (len(target), len(console))
    # The target: the read's set-up, whether the version table exists, its rows. Django's: the
    # session, the operator, the operator's groups, the recent trials, and the review rows of the
    # pending revisions shown, with their jobs, in one statement: 5, as README's schema-scale
    # table quotes for 500 revisions. Neither the history's length nor the pending count costs.
    assert behind < PENDING_REVIEW_LIMIT
    assert list(counts.values()) == [(3, 5)] * 2, counts
