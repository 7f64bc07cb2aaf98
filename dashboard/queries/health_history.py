"""Health figures over time: one sample per snapshot run, and the trends the Health page charts.

pg_stat_statements snapshots keep the history of statements; the same scheduled job stores a
sample of the health figures that have no history of their own in PostgreSQL: connections,
the cache hit ratio (from the cumulative block counters, diffed between samples), dead rows in
the target schema and the oldest transaction ID age. Samples are pruned with the snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from django.utils import timezone
from sqlalchemy import text

from dashboard.queries.models import HealthSample
from dashboard.target import run_read, target_location, target_schema

SAMPLE_SQL = text(
    """
    SELECT
        (SELECT count(*)
         FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend') AS connections,
        current_setting('max_connections')::int AS max_connections,
        (SELECT coalesce(sum(heap_blks_hit), 0)::bigint
         FROM pg_catalog.pg_statio_user_tables) AS heap_blks_hit,
        (SELECT coalesce(sum(heap_blks_read), 0)::bigint
         FROM pg_catalog.pg_statio_user_tables) AS heap_blks_read,
        (SELECT coalesce(sum(idx_blks_hit), 0)::bigint
         FROM pg_catalog.pg_statio_user_indexes) AS idx_blks_hit,
        (SELECT coalesce(sum(idx_blks_read), 0)::bigint
         FROM pg_catalog.pg_statio_user_indexes) AS idx_blks_read,
        (SELECT coalesce(sum(n_dead_tup), 0)::bigint
         FROM pg_catalog.pg_stat_user_tables
         WHERE schemaname = :schema) AS dead_rows,
        (SELECT max(age(datfrozenxid))::bigint
         FROM pg_catalog.pg_database) AS xid_age
    """
)

BLOCK_COUNTERS = ("heap_blks_hit", "heap_blks_read", "idx_blks_hit", "idx_blks_read")


def capture_health_sample(now: datetime | None = None) -> HealthSample:
    """Read the target's health figures and store them as one sample."""
    row = run_read(
        lambda conn: dict(conn.execute(SAMPLE_SQL, {"schema": target_schema()}).mappings().one())
    )
    return HealthSample.objects.create(
        source=target_location(), captured_at=now or timezone.now(), **row
    )


def prune_health_samples(cutoff: datetime) -> int:
    """Delete the samples taken before `cutoff`; return how many."""
    removed, _ = HealthSample.objects.filter(captured_at__lt=cutoff).delete()
    return removed


def _hit_percent(before: HealthSample, after: HealthSample) -> float | None:
    """Return the share of blocks found in the cache between two samples (None after a reset
    of the statistics, or when nothing was read)."""
    growth = {name: getattr(after, name) - getattr(before, name) for name in BLOCK_COUNTERS}
    if any(value < 0 for value in growth.values()):
        return None
    hits = growth["heap_blks_hit"] + growth["idx_blks_hit"]
    reads = growth["heap_blks_read"] + growth["idx_blks_read"]
    return 100.0 * hits / (hits + reads) if hits + reads else None


@dataclass
class HealthTrends:
    """The samples of one span as (time, value) series, one per figure."""

    span: timedelta
    samples: int = 0
    connections: list[tuple[datetime, float]] = field(default_factory=list)
    connection_percent: list[tuple[datetime, float]] = field(default_factory=list)
    cache_hit_percent: list[tuple[datetime, float]] = field(default_factory=list)
    dead_rows: list[tuple[datetime, float]] = field(default_factory=list)
    xid_age: list[tuple[datetime, float]] = field(default_factory=list)


def health_trends(span: timedelta, *, now: datetime | None = None) -> HealthTrends:
    """Return the health figures of the samples taken in the last `span`, oldest first."""
    since = (now or timezone.now()) - span
    samples = list(HealthSample.objects.filter(source=target_location(), captured_at__gt=since))
    trends = HealthTrends(span, len(samples))
    for sample in samples:
        trends.connections.append((sample.captured_at, float(sample.connections)))
        trends.connection_percent.append(
            (sample.captured_at, 100.0 * sample.connections / max(sample.max_connections, 1))
        )
        trends.dead_rows.append((sample.captured_at, float(sample.dead_rows)))
        trends.xid_age.append((sample.captured_at, float(sample.xid_age)))
    for before, after in pairwise(samples):
        hit = _hit_percent(before, after)
        if hit is not None:
            trends.cache_hit_percent.append((after.captured_at, hit))
    return trends
