"""Snapshots of pg_stat_statements: exact deltas, resets start a new series (never negative),
retention, the time-window list, the history chart, and the scheduled/on-demand jobs."""

from __future__ import annotations

import os
from datetime import timedelta

import psycopg
import pytest
from django.db.models import Q
from django.utils import timezone

from dashboard.queries.models import StatementDelta, StatementSnapshot, StatementText
from dashboard.queries.snapshots import COUNTERS, capture_snapshot, prune_snapshots
from tests.dashboard.queries.conftest import as_superuser, queryid_of, scratch_table

MARKED = "SELECT count(*) FROM qt_snap WHERE v = $1"


@pytest.fixture(scope="module")
def snap_table():
    with scratch_table(
        "qt_snap",
        "CREATE TABLE qt_snap (id serial PRIMARY KEY, v int)",
        "INSERT INTO qt_snap (v) SELECT g % 10 FROM generate_series(1, 100) AS g",
    ):
        yield


def run_marked(times: int) -> None:
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
        for value in range(times):
            conn.execute("SELECT count(*) FROM qt_snap WHERE v = %s", (value,))


def delta_calls(snapshot: StatementSnapshot, queryid: int) -> list[tuple[int, bool]]:
    rows = StatementDelta.objects.filter(snapshot=snapshot, queryid=queryid)
    return [(row.calls, row.new_series) for row in rows]


def negative_deltas() -> int:
    condition = Q()
    for name in COUNTERS:
        condition |= Q(**{f"{name}__lt": 0})
    return StatementDelta.objects.filter(condition).count()


@pytest.mark.django_db
def test_deltas_are_exact_and_a_reset_starts_a_new_series(snap_table):
    run_marked(1)  # so the statement has a baseline in the first snapshot
    queryid = queryid_of(MARKED)

    first = capture_snapshot()
    assert first.baseline_only and first.changed == 0
    assert StatementText.objects.filter(queryid=queryid, text=MARKED).exists()

    run_marked(3)
    second = capture_snapshot()
    assert delta_calls(second, queryid) == [(3, False)]

    run_marked(2)
    third = capture_snapshot()
    assert delta_calls(third, queryid) == [(2, False)]

    # A full reset between two snapshots: the counters restart from zero.
    as_superuser("SELECT pg_stat_statements_reset()")
    run_marked(1)
    fourth = capture_snapshot()
    assert fourth.reset_detected
    assert delta_calls(fourth, queryid) == [(1, True)]

    # A reset of only this statement does not move stats_reset; its counters going down
    # (2 calls now against 5 at the previous snapshot) start the new series.
    run_marked(4)
    fifth = capture_snapshot()
    assert delta_calls(fifth, queryid) == [(4, False)]
    as_superuser("SELECT pg_stat_statements_reset(0, 0, %s)", (queryid,))
    run_marked(2)
    sixth = capture_snapshot()
    assert not sixth.reset_detected
    assert delta_calls(sixth, queryid) == [(2, True)]

    assert negative_deltas() == 0
    # Snapshots never reset anything: the target still holds the statement.
    assert queryid_of(MARKED) == queryid


@pytest.mark.django_db
def test_old_snapshots_are_pruned(snap_table, settings):
    settings.QUERIES_SNAPSHOT_RETENTION_DAYS = 14
    old = capture_snapshot(now=timezone.now() - timedelta(days=20))
    recent = capture_snapshot()
    prune_snapshots()
    assert not StatementSnapshot.objects.filter(pk=old.pk).exists()
    assert StatementSnapshot.objects.filter(pk=recent.pk).exists()
    assert not StatementDelta.objects.filter(
        captured_at__lt=timezone.now() - timedelta(days=14)
    ).exists()


@pytest.mark.django_db
def test_time_window_list_and_history_chart(snap_table, viewer_client, htmx_headers):
    run_marked(1)
    capture_snapshot()
    run_marked(5)
    capture_snapshot()
    run_marked(2)
    capture_snapshot()
    queryid = queryid_of(MARKED)

    response = viewer_client.get("/queries/", {"window": "1h", "q": "qt_snap"}, **htmx_headers)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert f'data-queryid="{queryid}"' in fragment
    assert "in the last hour" in fragment
    row = fragment.split(f'data-queryid="{queryid}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">7</td>' in row  # 5 + 2 calls inside the window

    page = viewer_client.get(f"/queries/{queryid}/")
    body = page.content.decode()
    assert '<svg class="chart bars"' in body and body.count('class="bar"') >= 6

    partial = viewer_client.get(
        f"/queries/{queryid}/", {"history": "7d"}, HTTP_HX_TARGET="history", **htmx_headers
    )
    assert partial.content.decode().lstrip().startswith('<section class="card" id="history"')


@pytest.mark.django_db
def test_window_without_snapshots_says_so(viewer_client):
    body = viewer_client.get("/queries/", {"window": "24h"}).content.decode()
    assert "No snapshots cover last 24 hours yet" in body


def test_the_snapshot_job_is_scheduled():
    from django.conf import settings
    from procrastinate.contrib.django import app

    import dashboard.queries.tasks  # noqa: F401 -- registers the tasks

    periodic = app.periodic_registry.periodic_tasks[("queries_snapshot", "queries_snapshot")]
    assert periodic.cron == settings.QUERIES_SNAPSHOT_CRON


@pytest.mark.django_db(transaction=True)
def test_snapshot_now_runs_in_the_worker(engineer_client, viewer_client, snap_table):
    from dashboard.audit.models import AuditEvent
    from dashboard.jobs.models import JobRun
    from dashboard.jobs.worker import run_until_idle

    assert viewer_client.post("/queries/snapshots/").status_code == 403
    response = engineer_client.post("/queries/snapshots/")
    assert response.status_code == 302
    run = JobRun.objects.get(kind="queries_snapshot")
    run_until_idle()
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.result["statements read"] > 0
    assert StatementSnapshot.objects.filter(pk=run.result["snapshot"]).exists()
    from dashboard.queries.models import HealthSample

    assert HealthSample.objects.count() == 1  # the health figures are sampled by the same job
    assert AuditEvent.objects.filter(action="queries.snapshot_now").count() == 1

    page = viewer_client.get("/queries/snapshots/").content.decode()
    assert "<html" in page and "Take a snapshot now" not in page  # a viewer cannot
    listing = viewer_client.get("/queries/snapshots/", HTTP_HX_REQUEST="true")
    assert listing.content.decode().lstrip().startswith('<section class="card" id="snapshot-list"')
    assert "baseline" in listing.content.decode()
