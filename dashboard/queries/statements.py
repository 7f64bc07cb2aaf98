"""Slow queries from pg_stat_statements: the sorted list, one statement's figures, their texts.

Statistics are read with `pg_stat_statements(showtext := false)`, sorted, filtered and limited
in SQL; texts are read afterwards, only for the rows shown (`WHERE queryid = ANY(:ids)`).

A text filter needs the texts, so it runs first and only yields a set of queryids: the server
scans the texts (`showtext := true`) and returns the matching ids, no text travels; the list
query then keeps the rows whose queryid is in that set. Both statements run in the same
read-only transaction.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.queries import snapshots
from dashboard.queries.analysis import StatementShape, statement_shape
from dashboard.queries.explain import ParameterSlot, parameter_slots
from dashboard.queries.extension import (
    StatementsStatus,
    forget_statements_status,
    ready_statements_status,
)
from dashboard.queries.listing import PAGE_SIZE, StatementFilters, StatementPage, StatementRow
from dashboard.queries.sqlformat import FormattedSQL, format_sql, one_line
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

TEXTS_SQL = """
    SELECT DISTINCT ON (s.queryid)
        s.queryid,
        s.query
    FROM {function}(showtext := true) AS s
    WHERE s.queryid = ANY(CAST(:queryids AS bigint[]))
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

STATEMENT_DETAIL_SQL = """
    SELECT
        s.userid,
        s.dbid,
        s.toplevel,
        d.datname AS database,
        r.rolname AS username,
        s.plans,
        s.calls,
        s.total_plan_time AS total_plan_ms,
        s.total_exec_time AS total_exec_ms,
        s.min_exec_time AS min_ms,
        s.max_exec_time AS max_ms,
        s.mean_exec_time AS mean_exec_ms,
        s.stddev_exec_time AS stddev_ms,
        s.rows,
        s.shared_blks_hit,
        s.shared_blks_read,
        s.shared_blks_dirtied,
        s.shared_blks_written,
        s.temp_blks_read,
        s.temp_blks_written,
        s.wal_bytes,
        s.query
    FROM {function}(showtext := true) AS s
    LEFT JOIN pg_catalog.pg_database AS d
        ON d.oid = s.dbid
    LEFT JOIN pg_catalog.pg_roles AS r
        ON r.oid = s.userid
    WHERE s.queryid = :queryid
    ORDER BY s.total_exec_time + s.total_plan_time DESC
"""


def queryids_matching_text(conn: Connection, function: str, needle: str) -> list[int]:
    """Return the queryids whose text contains `needle` (case-insensitive)."""
    sql = text(QUERYIDS_BY_TEXT_SQL.format(function=function))
    return list(conn.execute(sql, {"needle": needle}).scalars())


def statement_texts(conn: Connection, function: str, queryids: list[int]) -> dict[int, str]:
    """Return the text of each of `queryids` that pg_stat_statements still holds."""
    if not queryids:
        return {}
    sql = text(TEXTS_SQL.format(function=function))
    return {row.queryid: row.query for row in conn.execute(sql, {"queryids": queryids})}


# One-line texts of the list, by (target, queryid). A queryid's normalized text does not change,
# so once read it is reused; this spares the list page a scan of every stored text (which
# `showtext := true` costs) whenever it shows statements it has shown before.
LIST_TEXT_CACHE_SIZE = 20_000
_list_texts: OrderedDict[tuple[str, int], str] = OrderedDict()
_list_texts_lock = threading.Lock()


def list_texts(conn: Connection, function: str, queryids: list[int]) -> dict[int, str]:
    """Return the one-line text of each of `queryids`, reading only the ones not seen before."""
    location = target_location()
    found: dict[int, str] = {}
    with _list_texts_lock:
        for queryid in queryids:
            cached = _list_texts.get((location, queryid))
            if cached is not None:
                _list_texts.move_to_end((location, queryid))
                found[queryid] = cached
    missing = [queryid for queryid in queryids if queryid not in found]
    if missing:
        read = {
            qid: one_line(query) for qid, query in statement_texts(conn, function, missing).items()
        }
        found.update(read)
        with _list_texts_lock:
            for queryid, line in read.items():
                _list_texts[(location, queryid)] = line
            while len(_list_texts) > LIST_TEXT_CACHE_SIZE:
                _list_texts.popitem(last=False)
    return found


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
    page = StatementPage(filters=filters, this_database=status.database)
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


# ---- one statement ------------------------------------------------------------------------


@dataclass
class StatementDetail:
    """One statement: its text, figures per (role, database) and in total, and its parameters."""

    queryid: int
    query: str
    formatted: FormattedSQL
    shape: StatementShape
    live: bool  # pg_stat_statements still holds it (else only the stored history knows it)
    keys: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    parameters: list[ParameterSlot] = field(default_factory=list)
    this_database: str = ""
    server_version_num: int = 0
    in_this_database: bool = True

    @property
    def supports_generic_plan(self) -> bool:
        return self.server_version_num >= 160000


def _totals(keys: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(key["calls"] for key in keys)
    exec_ms = sum(key["total_exec_ms"] for key in keys)
    plan_ms = sum(key["total_plan_ms"] for key in keys)
    hit = sum(key["shared_blks_hit"] for key in keys)
    read = sum(key["shared_blks_read"] for key in keys)
    rows = sum(key["rows"] for key in keys)
    return {
        "calls": calls,
        "plans": sum(key["plans"] for key in keys),
        "total_ms": exec_ms + plan_ms,
        "total_exec_ms": exec_ms,
        "total_plan_ms": plan_ms,
        "mean_ms": (exec_ms + plan_ms) / calls if calls else 0.0,
        "min_ms": min(key["min_ms"] for key in keys),
        "max_ms": max(key["max_ms"] for key in keys),
        "rows": rows,
        "rows_per_call": rows / calls if calls else 0.0,
        "shared_blks_hit": hit,
        "shared_blks_read": read,
        "shared_blks_dirtied": sum(key["shared_blks_dirtied"] for key in keys),
        "shared_blks_written": sum(key["shared_blks_written"] for key in keys),
        "temp_blks": sum(key["temp_blks_read"] + key["temp_blks_written"] for key in keys),
        "wal_bytes": sum(int(key["wal_bytes"] or 0) for key in keys),
        "hit_ratio": 100.0 * hit / (hit + read) if hit + read else None,
    }


@dataclass
class _LiveDetail:
    status: StatementsStatus
    keys: list[dict[str, Any]]
    parameters: list[ParameterSlot]


def _live_detail(conn: Connection, queryid: int) -> _LiveDetail:
    status = ready_statements_status(conn)
    if not status.ready:
        return _LiveDetail(status, [], [])
    sql = text(STATEMENT_DETAIL_SQL.format(function=status.function(conn)))
    keys = [dict(row) for row in conn.execute(sql, {"queryid": queryid}).mappings()]
    for key in keys:
        key["total_ms"] = key["total_exec_ms"] + key["total_plan_ms"]
    parameters: list[ParameterSlot] = []
    explainable_here = any(key["database"] == status.database for key in keys)
    if explainable_here and statement_shape(keys[0]["query"]).explainable:
        parameters = parameter_slots(conn, keys[0]["query"])  # the same transaction
    return _LiveDetail(status, keys, parameters)


def statement_detail(queryid: int) -> tuple[StatementsStatus, StatementDetail]:
    """Return one statement (live figures, or its stored text when the target forgot it)."""
    live = run_read(lambda conn: _live_detail(conn, queryid))
    status, keys = live.status, live.keys
    if keys:
        query = keys[0]["query"]
    else:
        query = snapshots.stored_texts([queryid]).get(queryid, "")
        if not query:
            if not status.ready:
                raise Http404(status.sentence)
            raise Http404(
                f"No statement has query id {queryid}: its statistics were reset or evicted, "
                "and no snapshot recorded it."
            )
    shape = statement_shape(query)
    detail = StatementDetail(
        queryid=queryid,
        query=query,
        formatted=format_sql(query),
        shape=shape,
        live=bool(keys),
        keys=keys,
        totals=_totals(keys) if keys else {},
        parameters=live.parameters,
        this_database=status.database,
        server_version_num=status.server_version_num,
        in_this_database=not keys or any(key["database"] == status.database for key in keys),
    )
    if not keys and shape.explainable:
        detail.parameters = run_read(lambda conn: parameter_slots(conn, query))
    return status, detail


TOP_STATEMENTS_SQL = """
    SELECT
        s.queryid,
        sum(s.calls) AS calls,
        sum(s.total_exec_time + s.total_plan_time) AS total_ms
    FROM {function}(showtext := false) AS s
    WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND s.queryid IS NOT NULL
      AND s.calls > 0
    GROUP BY s.queryid
    ORDER BY total_ms DESC
    LIMIT :limit
"""


@dataclass(frozen=True)
class TopStatement:
    """A statement of the target's database among those that take the most time."""

    queryid: int
    calls: int
    total_ms: float
    query: str


def top_statements(limit: int = 25) -> tuple[StatementsStatus, list[TopStatement]]:
    """Return the statements of this database taking the most total time, with full texts."""

    def work(conn: Connection) -> tuple[StatementsStatus, list[TopStatement]]:
        status = ready_statements_status(conn)
        if not status.ready:
            return status, []
        function = status.function(conn)
        sql = text(TOP_STATEMENTS_SQL.format(function=function))
        rows = conn.execute(sql, {"limit": limit}).all()
        texts = statement_texts(conn, function, [row.queryid for row in rows])
        return status, [
            TopStatement(row.queryid, int(row.calls), float(row.total_ms), texts[row.queryid])
            for row in rows
            if row.queryid in texts
        ]

    return run_read(work)
