"""Health numbers: cache hit ratios, connections, dead tuples and vacuum, wraparound age."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from dashboard.console_work import APPLICATION_NAME, console_roles
from dashboard.queries.activity import CONNECTION_LIMIT_SQL
from dashboard.target import run_read, target_schema

WRAPAROUND_LIMIT = 2_000_000_000  # PostgreSQL stops assigning XIDs a little past 2^31 - 3M

CACHE_HIT_SQL = text(
    """
    SELECT
        (SELECT sum(heap_blks_hit)::float8
                / NULLIF(sum(heap_blks_hit) + sum(heap_blks_read), 0)
         FROM pg_catalog.pg_statio_user_tables) AS table_hit_ratio,
        (SELECT sum(idx_blks_hit)::float8
                / NULLIF(sum(idx_blks_hit) + sum(idx_blks_read), 0)
         FROM pg_catalog.pg_statio_user_indexes) AS index_hit_ratio
    """
)

# A session is the console's own when it is named so or runs as one of the console's roles.
CONNECTIONS_SQL = text(
    """
    SELECT
        coalesce(state, 'unknown') AS state,
        count(*) FILTER (
            WHERE NOT (application_name = :application
                       OR usename = ANY(CAST(:console_roles AS text[])))
        ) AS connections,
        count(*) AS with_console
    FROM pg_catalog.pg_stat_activity
    WHERE backend_type = 'client backend'
    GROUP BY 1
    ORDER BY 3 DESC
    """
)

CONNECTIONS_BY_ROLE_SQL = text(
    """
    SELECT
        coalesce(usename, '?') AS username,
        coalesce(datname, '?') AS database,
        count(*) AS connections
    FROM pg_catalog.pg_stat_activity
    WHERE backend_type = 'client backend'
      AND (:show_console
           OR NOT (application_name = :application
                   OR usename = ANY(CAST(:console_roles AS text[]))))
    GROUP BY 1, 2
    ORDER BY 3 DESC
    LIMIT 10
    """
)

SETTINGS_SQL = text(
    """
    SELECT
        current_setting('max_connections')::int AS max_connections,
        current_setting('superuser_reserved_connections')::int AS reserved_connections,
        current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
        current_setting('autovacuum_vacuum_threshold')::bigint AS vacuum_threshold,
        current_setting('autovacuum_vacuum_scale_factor')::float8 AS vacuum_scale_factor,
        current_setting('autovacuum') = 'on' AS autovacuum_on
    """
)

VACUUM_SQL = text(
    """
    SELECT
        s.relname AS table_name,
        s.n_live_tup AS live_rows,
        s.n_dead_tup AS dead_rows,
        100.0 * s.n_dead_tup / NULLIF(s.n_live_tup + s.n_dead_tup, 0) AS dead_percent,
        s.n_mod_since_analyze AS modified_since_analyze,
        s.last_vacuum,
        s.last_autovacuum,
        s.last_analyze,
        s.last_autoanalyze,
        s.vacuum_count + s.autovacuum_count AS vacuums,
        :vacuum_threshold + :vacuum_scale_factor * greatest(c.reltuples, 0) AS autovacuum_at
    FROM pg_catalog.pg_stat_user_tables AS s
    JOIN pg_catalog.pg_class AS c
        ON c.oid = s.relid
    WHERE s.schemaname = :schema
    ORDER BY s.n_dead_tup DESC, s.relname
    LIMIT 50
    """
)

DATABASE_AGE_SQL = text(
    """
    SELECT
        datname AS database,
        age(datfrozenxid) AS xid_age,
        mxid_age(datminmxid) AS mxid_age
    FROM pg_catalog.pg_database
    ORDER BY age(datfrozenxid) DESC
    """
)

TABLE_AGE_SQL = text(
    """
    SELECT
        c.relname AS table_name,
        age(c.relfrozenxid) AS xid_age,
        pg_total_relation_size(c.oid) AS total_bytes
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'm', 't')
    ORDER BY age(c.relfrozenxid) DESC
    LIMIT 10
    """
)


@dataclass(frozen=True)
class ConnectionUsage:
    """Every client connection (the console's own included) against max_connections."""

    client_connections: int
    max_connections: int
    reserved_connections: int

    @property
    def usable_connections(self) -> int:
        return self.max_connections - self.reserved_connections

    @property
    def connection_percent(self) -> float:
        return 100.0 * self.client_connections / max(self.usable_connections, 1)


@dataclass(frozen=True)
class Wraparound:
    """The transaction ID age of every database, against the wraparound limit."""

    databases: list[dict[str, Any]]
    freeze_max_age: int

    @property
    def oldest_xid_age(self) -> int:
        return max((row["xid_age"] for row in self.databases), default=0)

    @property
    def wraparound_percent(self) -> float:
        return 100.0 * self.oldest_xid_age / WRAPAROUND_LIMIT


@dataclass
class Health:
    """The health numbers of the target database."""

    table_hit_ratio: float | None
    index_hit_ratio: float | None
    connections_by_state: list[dict[str, Any]]
    connections_by_role: list[dict[str, Any]]
    usage: ConnectionUsage  # every client connection, the console's own included
    vacuum: list[dict[str, Any]]
    autovacuum_on: bool
    ages: Wraparound
    oldest_tables: list[dict[str, Any]]
    schema: str
    show_console: bool = False
    console_roles: tuple[str, ...] = ()

    @property
    def console_connections(self) -> int:
        return sum(row["with_console"] - row["connections"] for row in self.connections_by_state)


def _health(conn: Connection, show_console: bool) -> Health:
    schema = target_schema()
    console: dict[str, Any] = {
        "application": APPLICATION_NAME,
        "console_roles": list(console_roles(conn)),
        "show_console": show_console,
    }
    cache = conn.execute(CACHE_HIT_SQL).mappings().one()
    limits = conn.execute(SETTINGS_SQL).mappings().one()
    vacuum = _vacuum(conn, schema, limits)
    by_state = _by_state(conn, console)
    return Health(
        table_hit_ratio=cache["table_hit_ratio"],
        index_hit_ratio=cache["index_hit_ratio"],
        connections_by_state=by_state,
        connections_by_role=[
            dict(row) for row in conn.execute(CONNECTIONS_BY_ROLE_SQL, console).mappings()
        ],
        usage=ConnectionUsage(
            sum(row["with_console"] for row in by_state),
            limits["max_connections"],
            limits["reserved_connections"],
        ),
        vacuum=vacuum,
        autovacuum_on=limits["autovacuum_on"],
        ages=Wraparound(_databases(conn, limits), limits["freeze_max_age"]),
        oldest_tables=[
            dict(row) for row in conn.execute(TABLE_AGE_SQL, {"schema": schema}).mappings()
        ],
        schema=schema,
        show_console=show_console,
        console_roles=tuple(console["console_roles"]),
    )


def _vacuum(conn: Connection, schema: str, limits: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """Return the tables of `schema` with the most dead rows, each marked when vacuum is due."""
    vacuum = [
        dict(row)
        for row in conn.execute(
            VACUUM_SQL,
            {
                "schema": schema,
                "vacuum_threshold": limits["vacuum_threshold"],
                "vacuum_scale_factor": limits["vacuum_scale_factor"],
            },
        ).mappings()
    ]
    for row in vacuum:
        row["vacuum_due"] = row["dead_rows"] > row["autovacuum_at"]
    return vacuum


def _databases(conn: Connection, limits: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """Return each database's transaction ID ages, marked when past autovacuum_freeze_max_age."""
    databases = [dict(row) for row in conn.execute(DATABASE_AGE_SQL).mappings()]
    for row in databases:
        row["percent"] = 100.0 * row["xid_age"] / WRAPAROUND_LIMIT
        row["past_freeze_max_age"] = row["xid_age"] > limits["freeze_max_age"]
    return databases


def _by_state(conn: Connection, console: dict[str, Any]) -> list[dict[str, Any]]:
    """Return connections per state: `connections` without the console's own (unless shown)."""
    rows = [dict(row) for row in conn.execute(CONNECTIONS_SQL, console).mappings()]
    for row in rows:
        if console["show_console"]:
            row["connections"] = row["with_console"]
    return rows


def database_health(show_console: bool = False) -> Health:
    """Return cache hit ratios, connections, vacuum state and wraparound age of the target.

    Connections by state and role leave out the console's own unless `show_console`; the
    total against max_connections always counts them.
    """
    return run_read(lambda conn: _health(conn, show_console))


# ---- one figure at a time (the Overview's lines: a locked table must not hide the others) ----


def connection_usage(*, timeout_ms: int | None = None) -> ConnectionUsage:
    """Return the client connections against max_connections less the reserved ones."""
    row = run_read(
        lambda conn: conn.execute(CONNECTION_LIMIT_SQL).mappings().one(), timeout_ms=timeout_ms
    )
    return ConnectionUsage(row["client_connections"], row["max_connections"], row["reserved"])


def wraparound(*, timeout_ms: int | None = None) -> Wraparound:
    """Return every database's transaction ID age and autovacuum_freeze_max_age."""

    def work(conn: Connection) -> Wraparound:
        limits = conn.execute(SETTINGS_SQL).mappings().one()
        return Wraparound(_databases(conn, limits), limits["freeze_max_age"])

    return run_read(work, timeout_ms=timeout_ms)


@dataclass(frozen=True)
class VacuumState:
    """The dead rows of the target schema's tables, and whether autovacuum runs at all."""

    schema: str
    tables: list[dict[str, Any]]
    autovacuum_on: bool


def vacuum_state(*, timeout_ms: int | None = None) -> VacuumState:
    """Return the tables of the target schema with the most dead rows (vacuum due marked)."""
    schema = target_schema()

    def work(conn: Connection) -> VacuumState:
        limits = conn.execute(SETTINGS_SQL).mappings().one()
        return VacuumState(schema, _vacuum(conn, schema, limits), limits["autovacuum_on"])

    return run_read(work, timeout_ms=timeout_ms)
