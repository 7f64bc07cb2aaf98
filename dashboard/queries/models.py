"""History of pg_stat_statements: deltas between successive reads, kept in the `django` schema.

pg_stat_statements only holds running totals since its last reset (and, on Neon, loses them when
the compute suspends). A snapshot job reads it every few minutes and stores, per statement key
(userid, dbid, queryid, toplevel), how much each counter grew since the previous read. The last
cumulative read per key is kept as a baseline to diff the next read against. Nothing is ever
reset on the target.
"""

from __future__ import annotations

from django.db import models


class StatementSnapshot(models.Model):
    """One read of pg_stat_statements by the snapshot job."""

    # host:port/dbname of the target (no credentials): baselines of another server never mix.
    source = models.CharField(max_length=300)
    captured_at = models.DateTimeField(db_index=True)
    stats_reset = models.DateTimeField(null=True, blank=True)
    statements = models.IntegerField(default=0)  # entries read
    changed = models.IntegerField(default=0)  # delta rows stored
    # The statistics were reset (or the compute restarted) since the previous snapshot.
    reset_detected = models.BooleanField(default=False)
    # The first read of a source only records baselines: its counters cover unknown time.
    baseline_only = models.BooleanField(default=False)
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-captured_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot {self.captured_at:%Y-%m-%d %H:%M} ({self.changed} changed)"


class StatementDelta(models.Model):
    """How much one statement's counters grew between two snapshots (never negative)."""

    snapshot = models.ForeignKey(StatementSnapshot, on_delete=models.CASCADE, related_name="+")
    captured_at = models.DateTimeField()  # copied from the snapshot, for time-window queries
    queryid = models.BigIntegerField()
    userid = models.BigIntegerField()
    dbid = models.BigIntegerField()
    toplevel = models.BooleanField(default=True)
    database = models.CharField(max_length=128, blank=True)
    username = models.CharField(max_length=128, blank=True)
    calls = models.BigIntegerField(default=0)
    total_exec_ms = models.FloatField(default=0)
    total_plan_ms = models.FloatField(default=0)
    rows = models.BigIntegerField(default=0)
    shared_blks_hit = models.BigIntegerField(default=0)
    shared_blks_read = models.BigIntegerField(default=0)
    shared_blks_dirtied = models.BigIntegerField(default=0)
    shared_blks_written = models.BigIntegerField(default=0)
    temp_blks_read = models.BigIntegerField(default=0)
    temp_blks_written = models.BigIntegerField(default=0)
    # The first delta of a series (new statement, or its counters restarted from zero).
    new_series = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["captured_at"], name="queries_delta_captured"),
            models.Index(fields=["queryid", "captured_at"], name="queries_delta_query_time"),
        ]

    def __str__(self) -> str:
        return f"query {self.queryid} +{self.calls} calls at {self.captured_at:%Y-%m-%d %H:%M}"


class StatementBaseline(models.Model):
    """The last cumulative counters read for one statement key of one source."""

    source = models.CharField(max_length=300)
    queryid = models.BigIntegerField()
    userid = models.BigIntegerField()
    dbid = models.BigIntegerField()
    toplevel = models.BooleanField(default=True)
    calls = models.BigIntegerField(default=0)
    total_exec_ms = models.FloatField(default=0)
    total_plan_ms = models.FloatField(default=0)
    rows = models.BigIntegerField(default=0)
    shared_blks_hit = models.BigIntegerField(default=0)
    shared_blks_read = models.BigIntegerField(default=0)
    shared_blks_dirtied = models.BigIntegerField(default=0)
    shared_blks_written = models.BigIntegerField(default=0)
    temp_blks_read = models.BigIntegerField(default=0)
    temp_blks_written = models.BigIntegerField(default=0)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "queryid", "userid", "dbid", "toplevel"],
                name="queries_baseline_key",
            )
        ]

    def __str__(self) -> str:
        return f"baseline of query {self.queryid} ({self.calls} calls)"


class StatementText(models.Model):
    """The normalized text of a statement, kept so history survives the target forgetting it."""

    dbid = models.BigIntegerField()
    queryid = models.BigIntegerField()
    text = models.TextField()
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dbid", "queryid"], name="queries_text_key")]

    def __str__(self) -> str:
        return f"text of query {self.queryid}"


class HealthSample(models.Model):
    """The target's health figures read at one snapshot run: levels, and counters to diff.

    Connections, dead rows and the oldest transaction ID age are levels; the block counters
    are cumulative (pg_statio), so a cache hit ratio is the growth between two samples.
    """

    source = models.CharField(max_length=300)  # host:port/dbname, as for the snapshots
    captured_at = models.DateTimeField()
    connections = models.IntegerField()  # client backends, the console's own included
    max_connections = models.IntegerField()
    heap_blks_hit = models.BigIntegerField()
    heap_blks_read = models.BigIntegerField()
    idx_blks_hit = models.BigIntegerField()
    idx_blks_read = models.BigIntegerField()
    dead_rows = models.BigIntegerField()  # in the target schema's tables
    xid_age = models.BigIntegerField()  # the oldest database's age(datfrozenxid)

    class Meta:
        ordering = ["captured_at", "id"]
        indexes = [models.Index(fields=["source", "captured_at"], name="queries_health_time")]

    def __str__(self) -> str:
        return f"health sample {self.captured_at:%Y-%m-%d %H:%M}"
