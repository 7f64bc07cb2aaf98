"""Health samples taken with each snapshot run, and the Health page's trend charts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from dashboard.queries.health_history import capture_health_sample, health_trends
from dashboard.queries.models import HealthSample
from dashboard.queries.snapshots import prune_snapshots
from tests.dashboard.queries.conftest import as_owner, scratch_table, wait_until

pytestmark = pytest.mark.django_db


def test_a_sample_holds_the_real_figures():
    sample = capture_health_sample()
    assert sample.max_connections == int(as_owner("SHOW max_connections")[0][0])
    assert sample.connections >= 1  # this test's own connection to the target, at least
    oldest = as_owner("SELECT max(age(datfrozenxid)) FROM pg_database")[0][0]
    assert 0 < sample.xid_age <= oldest + 1000
    assert sample.heap_blks_hit + sample.heap_blks_read > 0


def test_the_scheduled_snapshot_job_takes_a_sample():
    from dashboard.queries.tasks import snapshot_statements

    snapshot_statements(timestamp=0)
    assert HealthSample.objects.count() == 1


def test_trends_per_figure_and_the_cache_hit_ratio_between_samples():
    with scratch_table(
        "qt_trend",
        "CREATE TABLE qt_trend (id int PRIMARY KEY) WITH (autovacuum_enabled = off)",
        "INSERT INTO qt_trend SELECT generate_series(1, 300)",
    ):
        first = capture_health_sample(now=timezone.now() - timedelta(minutes=10))
        as_owner("DELETE FROM qt_trend WHERE id <= 200")
        for _ in range(5):
            as_owner("SELECT count(*) FROM qt_trend")
        assert wait_until(
            lambda: (
                as_owner("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'qt_trend'")[
                    0
                ][0]
                == 200
            )
        )
        second = capture_health_sample(now=timezone.now() - timedelta(minutes=5))
    # A statistics reset between two samples: its counters went down, no ratio for it.
    fields = model_to_dict(second, exclude=["id"])
    fields.update(heap_blks_hit=0, idx_blks_hit=0, captured_at=timezone.now())
    HealthSample.objects.create(**fields)

    trends = health_trends(timedelta(hours=1))
    assert trends.samples == 3
    times = [first.captured_at, second.captured_at, fields["captured_at"]]
    assert [at for at, _ in trends.connections] == times
    assert trends.dead_rows[1][1] >= 200  # qt_trend's alone
    assert len(trends.cache_hit_percent) == 1  # first → second only
    at, percent = trends.cache_hit_percent[0]
    assert at == second.captured_at and 0 < percent <= 100
    assert health_trends(timedelta(minutes=7)).samples == 2


def test_samples_are_pruned_with_the_snapshots(settings):
    settings.QUERIES_SNAPSHOT_RETENTION_DAYS = 14
    old = capture_health_sample(now=timezone.now() - timedelta(days=20))
    recent = capture_health_sample()
    prune_snapshots()
    assert list(HealthSample.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk


def _statio_blocks() -> int:
    return as_owner(
        "SELECT coalesce(sum(heap_blks_hit + heap_blks_read), 0) FROM pg_statio_user_tables"
    )[0][0]


def _blocks_read_between_samples() -> None:
    """Read a table and wait until the statistics show it (a backend reports as it exits)."""
    before = _statio_blocks()
    as_owner("SELECT count(*) FROM qt_trend_read")
    assert wait_until(lambda: _statio_blocks() > before)


def test_health_page_charts_the_trends_full_and_partial(viewer_client, htmx_headers):
    with scratch_table(
        "qt_trend_read",
        "CREATE TABLE qt_trend_read (id int PRIMARY KEY)",
        "INSERT INTO qt_trend_read SELECT generate_series(1, 100)",
    ):
        for minutes in (15, 10, 5):
            _blocks_read_between_samples()
            capture_health_sample(now=timezone.now() - timedelta(minutes=minutes))
    page = viewer_client.get("/queries/health/").content.decode()
    trends = page.split('<section class="card" id="trends">', 1)[1]
    assert trends.count('<svg class="chart') == 4
    assert 'aria-label="Connections"' in trends and 'aria-label="Dead rows"' in trends
    assert "3 samples in this span" in trends

    partial = viewer_client.get(
        "/queries/health/", {"span": "1h"}, HTTP_HX_TARGET="trends", **htmx_headers
    ).content.decode()
    assert partial.lstrip().startswith('<section class="card" id="trends">')
    assert "<html" not in partial and 'class="active" aria-current="true">1h<' in partial


def test_health_page_without_samples_says_how_they_come(viewer_client):
    page = viewer_client.get("/queries/health/").content.decode()
    assert "No sample in this span yet" in page
