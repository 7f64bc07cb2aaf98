"""Slow queries from pg_stat_statements: the sorted, filtered list of statements, by page.

Statistics are read with `pg_stat_statements(showtext := false)`, sorted, filtered and limited
in SQL; texts are read afterwards, only for the rows shown (`WHERE queryid = ANY(:ids)`).

A text filter needs the texts, so it runs first and only yields a set of queryids: the server
scans the texts (`showtext := true`) and returns the matching ids, no text travels; the list
query then keeps the rows whose queryid is in that set. Both statements run in the same
read-only transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.console_work import console_roles
from dashboard.queries import snapshots
from dashboard.queries.extension import (
    StatementsStatus,
    forget_statements_status,
    ready_statements_status,
)
from dashboard.queries.listing import PAGE_SIZE, StatementFilters, StatementPage, StatementRow
from dashboard.queries.statement_texts import list_texts
from dashboard.target import run_read, target_location

# Names of databases and roles are joined only to the rows shown: the filters compare oids.
STATEMENT_LIST_SQL = """
    WITH scoped AS MATERIALIZED (
        SELECT
            s.queryid,
            s.userid,
            s.dbid,
            s.toplevel,
            s.calls,
            s.total_exec_time + s.total_plan_time AS total_ms,
            (s.total_exec_time + s.total_plan_time) / s.calls AS mean_ms,
            s.rows,
            s.shared_blks_hit,
            s.shared_blks_read,
            s.temp_blks_read + s.temp_blks_written AS temp_blks,
            s.shared_blks_hit::float8
                / NULLIF(s.shared_blks_hit + s.shared_blks_read, 0) AS hit_ratio
        FROM {function}(showtext := false) AS s
        WHERE s.calls > 0
          AND s.queryid IS NOT NULL
          AND (:all_databases OR s.dbid = (
                SELECT oid
                FROM pg_catalog.pg_database
                WHERE datname = coalesce(:database, current_database())))
          AND (CAST(:username AS text) IS NULL OR s.userid = (
                SELECT oid
                FROM pg_catalog.pg_roles
                WHERE rolname = :username))
          AND s.userid NOT IN (
                SELECT oid
                FROM pg_catalog.pg_roles
                WHERE rolname = ANY(CAST(:hidden_roles AS text[])))
    ),
    filtered AS (
        SELECT *
        FROM scoped
        WHERE scoped.calls >= :min_calls
          AND scoped.mean_ms >= :min_mean_ms
          AND (CAST(:queryids AS bigint[]) IS NULL
               OR scoped.queryid = ANY(CAST(:queryids AS bigint[])))
    ),
    shown AS (
        SELECT *
        FROM filtered
        ORDER BY {sort_column} {direction} NULLS LAST, queryid
        LIMIT :limit
        OFFSET :offset
    )
    SELECT
        info.stats_reset,
        info.dealloc,
        (SELECT sum(total_ms) FROM scoped) AS scope_total_ms,
        (SELECT count(*) FROM filtered) AS matching,
        shown.*,
        d.datname AS database,
        r.rolname AS username
    FROM {schema}.pg_stat_statements_info AS info
    LEFT JOIN shown
        ON true
    LEFT JOIN pg_catalog.pg_database AS d
        ON d.oid = shown.dbid
    LEFT JOIN pg_catalog.pg_roles AS r
        ON r.oid = shown.userid
    ORDER BY shown.{sort_column} {direction} NULLS LAST, shown.queryid
"""

QUERYIDS_BY_TEXT_SQL = """
    SELECT DISTINCT s.queryid
    FROM {function}(showtext := true) AS s
    WHERE s.queryid IS NOT NULL
      AND strpos(lower(s.query), lower(:needle)) > 0
"""

SCOPES_SQL = """
    SELECT DISTINCT
        d.datname AS database,
        r.rolname AS username
    FROM {function}(showtext := false) AS s
    LEFT JOIN pg_catalog.pg_database AS d
        ON d.oid = s.dbid
    LEFT JOIN pg_catalog.pg_roles AS r
        ON r.oid = s.userid
    WHERE s.calls > 0
"""


def queryids_matching_text(conn: Connection, function: str, needle: str) -> list[int]:
    """Return the queryids whose text contains `needle` (case-insensitive)."""
    sql = text(QUERYIDS_BY_TEXT_SQL.format(function=function))
    return list(conn.execute(sql, {"needle": needle}).scalars())


def statement_scopes(conn: Connection, function: str) -> tuple[list[str], list[str]]:
    """Return the databases and the roles that have statements recorded."""
    rows = conn.execute(text(SCOPES_SQL.format(function=function))).all()
    databases = sorted({row.database for row in rows if row.database})
    usernames = sorted({row.username for row in rows if row.username})
    return databases, usernames


@dataclass
class LiveRows:
    """One page of statements read live, with what the page shows around them."""

    rows: list[StatementRow]
    matching: int
    scope_total_ms: float
    stats_reset: Any
    evicted: int | None


def live_statement_rows(
    conn: Connection,
    status: StatementsStatus,
    filters: StatementFilters,
    queryids: list[int] | None,
) -> LiveRows:
    """Return one page of statements, the matching count and the scope's total time."""
    sql = text(
        STATEMENT_LIST_SQL.format(
            function=status.function(conn),
            schema=conn.dialect.identifier_preparer.quote_identifier(status.schema or "public"),
            sort_column=filters.sort_column,
            direction=filters.sort_direction,
        )
    )
    params = {
        "all_databases": filters.all_databases,
        "database": None if filters.all_databases else (filters.database or None),
        "username": filters.username or None,
        "min_calls": filters.min_calls,
        "min_mean_ms": filters.min_mean_ms,
        "queryids": queryids,
        "hidden_roles": filters.hidden_roles(conn),
        "limit": PAGE_SIZE,
        "offset": filters.offset,
    }
    records = conn.execute(sql, params).mappings().all()
    first = records[0]  # the info row is always there, with or without statements
    scope_total = float(first["scope_total_ms"] or 0)
    rows = [
        StatementRow(
            queryid=record["queryid"],
            userid=int(record["userid"]),
            dbid=int(record["dbid"]),
            toplevel=record["toplevel"],
            database=record["database"] or "?",
            username=record["username"] or "?",
            calls=record["calls"],
            total_ms=record["total_ms"],
            mean_ms=record["mean_ms"],
            rows=record["rows"],
            shared_blks_hit=record["shared_blks_hit"],
            shared_blks_read=record["shared_blks_read"],
            temp_blks=record["temp_blks"],
            share=100.0 * record["total_ms"] / scope_total if scope_total else None,
        )
        for record in records
        if record["queryid"] is not None
    ]
    return LiveRows(
        rows, int(first["matching"]), scope_total, first["stats_reset"], first["dealloc"]
    )


_scopes_cache: dict[str, tuple[float, tuple[list[str], list[str]]]] = {}
SCOPES_CACHE_SECONDS = 30.0


def _cached_scopes(conn: Connection, function: str) -> tuple[list[str], list[str]]:
    """Return statement_scopes(), reused for half a minute (they are filter choices only)."""
    key = target_location()
    cached = _scopes_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    scopes = statement_scopes(conn, function)
    _scopes_cache[key] = (time.monotonic() + SCOPES_CACHE_SECONDS, scopes)
    return scopes


def _live_page(conn: Connection, filters: StatementFilters) -> tuple[StatementsStatus, Any]:
    status = ready_statements_status(conn)
    page = StatementPage(
        filters=filters, this_database=status.database, console_roles=console_roles(conn)
    )
    if not status.ready:
        return status, page
    function = status.function(conn)
    try:
        page.databases, page.usernames = _cached_scopes(conn, function)
        if filters.window == "live":
            queryids = (
                queryids_matching_text(conn, function, filters.text) if filters.text else None
            )
            live = live_statement_rows(conn, status, filters, queryids)
            page.rows, page.matching, page.scope_total_ms = (
                live.rows,
                live.matching,
                live.scope_total_ms,
            )
            page.since, page.evicted = live.stats_reset, live.evicted
            texts = list_texts(conn, function, [row.queryid for row in page.rows])
            for row in page.rows:
                row.text = texts.get(row.queryid, "")
    except DBAPIError:
        forget_statements_status()  # the extension may have changed under the cached status
        raise
    return status, page


def statement_page(filters: StatementFilters) -> tuple[StatementsStatus, StatementPage]:
    """Return the extension's status and one page of statements for `filters`."""
    status, page = run_read(lambda conn: _live_page(conn, filters))
    if status.ready and filters.window != "live":
        snapshots.fill_window_page(page, status.database)
        missing = [row.queryid for row in page.rows if not row.text]
        if missing:
            texts = run_read(lambda conn: list_texts(conn, status.function(conn), missing))
            for row in page.rows:
                row.text = row.text or texts.get(row.queryid, "")
    return status, page
