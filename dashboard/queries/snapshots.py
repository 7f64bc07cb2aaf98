"""Snapshots of pg_stat_statements: deltas between successive reads, never a reset.

Each run reads every entry's cumulative counters and compares them with the previous read of
the same key (userid, dbid, queryid, toplevel), kept as a baseline. The difference is stored as
a delta. A counter that went down means the entry restarted from zero (statistics reset, entry
evicted and re-added, Neon compute restarted): the key starts a new series and its current
values are the delta, so no delta is ever negative. A changed `pg_stat_statements_info.
stats_reset` marks every key as restarted. The first run for a target only records baselines,
because its counters cover an unknown stretch of time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FloatField, Q, Sum
from django.db.models.functions import Cast, NullIf
from django.utils import timezone
from sqlalchemy import Connection, text

from dashboard.queries.extension import StatementsStatus, statements_info, statements_status
from dashboard.queries.health_history import prune_health_samples
from dashboard.queries.listing import PAGE_SIZE, StatementPage, StatementRow
from dashboard.queries.models import (
    StatementBaseline,
    StatementDelta,
    StatementSnapshot,
    StatementText,
)
from dashboard.queries.sqlformat import one_line, recorded_text
from dashboard.queries.statement_texts import statement_texts
from dashboard.target import run_read, target_location

logger = logging.getLogger(__name__)

COUNTERS = (
    "calls",
    "total_exec_ms",
    "total_plan_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "temp_blks_read",
    "temp_blks_written",
)
KEY = ("queryid", "userid", "dbid", "toplevel")
LOCK_ID = 0x5D5E_0001  # one capture at a time per console database

COUNTERS_SQL = """
    SELECT
        s.queryid,
        s.userid::bigint AS userid,
        s.dbid::bigint AS dbid,
        s.toplevel,
        d.datname AS database,
        r.rolname AS username,
        s.calls,
        s.total_exec_time AS total_exec_ms,
        s.total_plan_time AS total_plan_ms,
        s.rows,
        s.shared_blks_hit,
        s.shared_blks_read,
        s.shared_blks_dirtied,
        s.shared_blks_written,
        s.temp_blks_read,
        s.temp_blks_written
    FROM {function}(showtext := false) AS s
    LEFT JOIN pg_catalog.pg_database AS d
        ON d.oid = s.dbid
    LEFT JOIN pg_catalog.pg_roles AS r
        ON r.oid = s.userid
    WHERE s.queryid IS NOT NULL
"""

TEXTS_BY_DATABASE_SQL = """
    SELECT DISTINCT ON (s.dbid, s.queryid)
        s.dbid::bigint AS dbid,
        s.queryid,
        s.query
    FROM {function}(showtext := true) AS s
    WHERE s.queryid = ANY(CAST(:queryids AS bigint[]))
"""


class SnapshotUnavailable(Exception):
    """pg_stat_statements cannot be read; `sentence` says why."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


@dataclass
class _Read:
    rows: list[dict[str, Any]]
    stats_reset: datetime | None
    texts: list[dict[str, Any]]


def _read_counters(conn: Connection, known_texts: set[tuple[int, int]]) -> _Read:
    status = statements_status(conn)
    if not status.ready:
        raise SnapshotUnavailable(status.sentence)
    function = status.function(conn)
    rows = [
        dict(row) for row in conn.execute(text(COUNTERS_SQL.format(function=function))).mappings()
    ]
    info = statements_info(conn, status)
    missing = sorted(
        {row["queryid"] for row in rows if (row["dbid"], row["queryid"]) not in known_texts}
    )
    texts = []
    if missing:
        sql = text(TEXTS_BY_DATABASE_SQL.format(function=function))
        texts = [dict(row) for row in conn.execute(sql, {"queryids": missing}).mappings()]
    return _Read(rows, info["stats_reset"], texts)


def _delta(
    row: dict[str, Any], baseline: StatementBaseline | None, restarted: bool
) -> tuple[dict[str, Any], bool]:
    """Return (the counters' growth, whether a new series starts) for one key."""
    if restarted or baseline is None:
        return {name: row[name] for name in COUNTERS}, True
    if any(row[name] < getattr(baseline, name) for name in COUNTERS):
        return {name: row[name] for name in COUNTERS}, True
    return {name: row[name] - getattr(baseline, name) for name in COUNTERS}, False


def capture_snapshot(now: datetime | None = None) -> StatementSnapshot:
    """Read pg_stat_statements, store the deltas since the previous read, prune old ones."""
    started = time.perf_counter()
    now = now or timezone.now()
    source = target_location()
    known_texts = set(StatementText.objects.values_list("dbid", "queryid"))
    read = run_read(lambda conn: _read_counters(conn, known_texts), timeout_ms=30_000)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        previous = StatementSnapshot.objects.filter(source=source).order_by("-captured_at").first()
        baseline_only = previous is None
        reset = bool(
            previous
            and previous.stats_reset
            and read.stats_reset
            and read.stats_reset != previous.stats_reset
        )
        baselines = {
            tuple(getattr(b, name) for name in KEY): b
            for b in StatementBaseline.objects.filter(source=source)
        }
        snapshot = StatementSnapshot.objects.create(
            source=source,
            captured_at=now,
            stats_reset=read.stats_reset,
            statements=len(read.rows),
            reset_detected=reset,
            baseline_only=baseline_only,
        )
        deltas = []
        for row in read.rows:
            if baseline_only:
                break
            key = tuple(row[name] for name in KEY)
            growth, new_series = _delta(row, baselines.get(key), reset)
            if not any(growth.values()):
                continue
            deltas.append(
                StatementDelta(
                    snapshot=snapshot,
                    captured_at=now,
                    database=row["database"] or "",
                    username=row["username"] or "",
                    new_series=new_series,
                    **dict(zip(KEY, key, strict=True)),
                    **growth,
                )
            )
        StatementDelta.objects.bulk_create(deltas, batch_size=2000)
        StatementBaseline.objects.bulk_create(
            [
                StatementBaseline(
                    source=source,
                    seen_at=now,
                    **{name: row[name] for name in KEY},
                    **{name: row[name] for name in COUNTERS},
                )
                for row in read.rows
            ],
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["source", *KEY],
            update_fields=[*COUNTERS, "seen_at"],
        )
        StatementText.objects.bulk_create(
            [
                StatementText(
                    dbid=t["dbid"],
                    queryid=t["queryid"],
                    text=recorded_text(t["query"] or ""),
                    seen_at=now,
                )
                for t in read.texts
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        snapshot.changed = len(deltas)
        snapshot.duration_ms = (time.perf_counter() - started) * 1000
        snapshot.save(update_fields=["changed", "duration_ms"])
    prune_snapshots(now)
    return snapshot


def prune_snapshots(now: datetime | None = None, days: int | None = None) -> int:
    """Delete snapshots, deltas, baselines and texts older than the retention; return how many."""
    now = now or timezone.now()
    keep_days = days if days is not None else int(settings.QUERIES_SNAPSHOT_RETENTION_DAYS)
    cutoff = now - timedelta(days=keep_days)
    with transaction.atomic():
        StatementDelta.objects.filter(captured_at__lt=cutoff).delete()
        removed, _ = StatementSnapshot.objects.filter(captured_at__lt=cutoff).delete()
        StatementBaseline.objects.filter(seen_at__lt=cutoff).delete()
        referenced = Q(queryid__in=StatementDelta.objects.values("queryid")) | Q(
            queryid__in=StatementBaseline.objects.values("queryid")
        )
        StatementText.objects.filter(seen_at__lt=cutoff).exclude(referenced).delete()
        prune_health_samples(cutoff)
    return removed


def stored_texts(queryids: list[int]) -> dict[int, str]:
    """Return the stored text of each of `queryids` that a snapshot recorded."""
    return dict(StatementText.objects.filter(queryid__in=queryids).values_list("queryid", "text"))


def recent_snapshots(limit: int = 20) -> list[StatementSnapshot]:
    """Return the newest snapshots of the current target."""
    return list(StatementSnapshot.objects.filter(source=target_location())[:limit])


# ---- reading the history ----------------------------------------------------------------------


def _window_deltas(since: datetime, database: str | None, username: str, hidden_roles: list[str]):
    deltas = StatementDelta.objects.filter(
        captured_at__gt=since, snapshot__source=target_location()
    )
    if database is not None:
        deltas = deltas.filter(database=database)
    if username:
        deltas = deltas.filter(username=username)
    if hidden_roles:
        deltas = deltas.exclude(username__in=hidden_roles)
    return deltas


def fill_window_page(page: StatementPage, this_database: str) -> None:
    """Fill `page` with statements added up from the deltas inside the filters' time window."""
    filters = page.filters
    span = filters.window_span
    assert span is not None
    since = timezone.now() - span
    database = None if filters.all_databases else (filters.database or this_database)
    in_window = StatementDelta.objects.filter(
        captured_at__gt=since, snapshot__source=target_location()
    )
    page.databases = sorted(set(in_window.values_list("database", flat=True).distinct()) - {""})
    page.usernames = sorted(set(in_window.values_list("username", flat=True).distinct()) - {""})
    deltas = _window_deltas(since, database, filters.username, filters.hidden_roles())
    total_time = F("total_exec_ms") + F("total_plan_ms")
    page.scope_total_ms = deltas.aggregate(total=Sum(total_time))["total"] or 0.0
    grouped = (
        deltas.values("queryid", "userid", "dbid", "toplevel", "database", "username")
        .annotate(
            calls=Sum("calls"),
            total_ms=Sum(total_time),
            rows=Sum("rows"),
            shared_blks_hit=Sum("shared_blks_hit"),
            shared_blks_read=Sum("shared_blks_read"),
            temp_blks=Sum(F("temp_blks_read") + F("temp_blks_written")),
        )
        .annotate(
            mean_ms=F("total_ms") / NullIf(F("calls"), 0),
            hit_ratio=Cast("shared_blks_hit", FloatField())
            / NullIf(F("shared_blks_hit") + F("shared_blks_read"), 0),
        )
        .filter(calls__gt=0)
    )
    if filters.min_calls:
        grouped = grouped.filter(calls__gte=filters.min_calls)
    if filters.min_mean_ms:
        grouped = grouped.filter(mean_ms__gte=filters.min_mean_ms)
    if filters.text:
        matching_ids = StatementText.objects.filter(text__icontains=filters.text).values("queryid")
        grouped = grouped.filter(queryid__in=matching_ids)
    column = F(filters.sort_column)
    ordering = (
        column.asc(nulls_last=True)
        if filters.sort_direction == "ASC"
        else column.desc(nulls_last=True)
    )
    grouped = grouped.order_by(ordering, "queryid")
    page.matching = grouped.count()
    records = list(grouped[filters.offset : filters.offset + PAGE_SIZE])
    texts = stored_texts([record["queryid"] for record in records])
    page.rows = [
        StatementRow(
            queryid=record["queryid"],
            userid=record["userid"],
            dbid=record["dbid"],
            toplevel=record["toplevel"],
            database=record["database"] or "?",
            username=record["username"] or "?",
            calls=record["calls"],
            total_ms=record["total_ms"],
            mean_ms=record["mean_ms"] or 0.0,
            rows=record["rows"],
            shared_blks_hit=record["shared_blks_hit"],
            shared_blks_read=record["shared_blks_read"],
            temp_blks=record["temp_blks"],
            share=100.0 * record["total_ms"] / page.scope_total_ms if page.scope_total_ms else None,
            text=one_line(texts.get(record["queryid"], "")),
        )
        for record in records
    ]
    page.since = since
    page.snapshots_in_window = StatementSnapshot.objects.filter(
        captured_at__gt=since, source=target_location(), baseline_only=False
    ).count()


@dataclass(frozen=True)
class HistoryPoint:
    """One snapshot interval of one statement."""

    at: datetime
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def statement_history(queryid: int, span: timedelta) -> list[HistoryPoint]:
    """Return the statement's calls and time per snapshot interval (zero where it did not run)."""
    since = timezone.now() - span
    source = target_location()
    times = list(
        StatementSnapshot.objects.filter(source=source, captured_at__gt=since, baseline_only=False)
        .order_by("captured_at")
        .values_list("captured_at", flat=True)
    )
    sums = {
        row["captured_at"]: row
        for row in StatementDelta.objects.filter(
            queryid=queryid, captured_at__gt=since, snapshot__source=source
        )
        .values("captured_at")
        .annotate(calls=Sum("calls"), total_ms=Sum(F("total_exec_ms") + F("total_plan_ms")))
    }
    return [
        HistoryPoint(at, int(sums[at]["calls"]), float(sums[at]["total_ms"]))
        if at in sums
        else HistoryPoint(at, 0, 0.0)
        for at in times
    ]


# ---- what changed since the last snapshot -----------------------------------------------------


@dataclass(frozen=True)
class RecentStatement:
    """A statement's calls and time since the last snapshot, with its text."""

    queryid: int
    calls: int
    total_ms: float
    text: str

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass
class SinceSnapshot:
    """The statements of the target's database that ran since the last snapshot."""

    status: StatementsStatus
    snapshot_at: datetime | None = None  # None: no snapshot of this target yet
    statements: list[RecentStatement] = field(default_factory=list)  # slowest mean first


def _grown_since(
    rows: list[dict[str, Any]], baselines: dict[tuple, StatementBaseline], restarted: bool
) -> dict[int, list[float]]:
    """Return [calls, total ms] per queryid: how much each grew since its baseline."""
    grown: dict[int, list[float]] = {}
    for row in rows:
        key = tuple(row[name] for name in KEY)
        growth, _ = _delta(row, baselines.get(key), restarted)
        if growth["calls"]:
            entry = grown.setdefault(row["queryid"], [0, 0.0])
            entry[0] += growth["calls"]
            entry[1] += growth["total_exec_ms"] + growth["total_plan_ms"]
    return grown


def slowest_since_last_snapshot(
    *,
    limit: int = 3,
    min_calls: int = 1,
    hidden_roles: tuple[str, ...] = (),
    timeout_ms: int | None = None,
) -> SinceSnapshot:
    """Return the statements of this database with the highest mean time since the last
    snapshot (live counters minus the snapshot's baselines; top-level statements run by roles
    other than `hidden_roles`, at least `min_calls` calls)."""
    source = target_location()
    last = StatementSnapshot.objects.filter(source=source).order_by("-captured_at").first()

    def work(conn: Connection) -> SinceSnapshot:
        status = statements_status(conn)
        if not status.ready or last is None:
            return SinceSnapshot(status)
        function = status.function(conn)
        rows = [
            dict(row)
            for row in conn.execute(text(COUNTERS_SQL.format(function=function))).mappings()
            if row["toplevel"]
            and row["database"] == status.database
            and row["username"] not in hidden_roles
        ]
        stats_reset = statements_info(conn, status)["stats_reset"]
        restarted = bool(last.stats_reset and stats_reset and stats_reset != last.stats_reset)
        baselines = {
            tuple(getattr(b, name) for name in KEY): b
            for b in StatementBaseline.objects.filter(
                source=source, queryid__in={row["queryid"] for row in rows}
            )
        }
        grown = _grown_since(rows, baselines, restarted)
        slowest = sorted(
            (
                (queryid, int(calls), total)
                for queryid, (calls, total) in grown.items()
                if calls >= min_calls
            ),
            key=lambda item: (-item[2] / item[1], item[0]),
        )[:limit]
        texts = statement_texts(conn, function, [queryid for queryid, _, _ in slowest])
        return SinceSnapshot(
            status,
            last.captured_at,
            [
                RecentStatement(queryid, calls, total, texts.get(queryid, ""))
                for queryid, calls, total in slowest
            ],
        )

    return run_read(work, timeout_ms=timeout_ms)
