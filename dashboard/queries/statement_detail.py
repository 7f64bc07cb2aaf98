"""One statement's page data: its text and shape, its figures per (role, database) and in total."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from sqlalchemy import Connection, text

from dashboard.queries import snapshots
from dashboard.queries.allow_list import allow_list_refusal
from dashboard.queries.analysis import StatementShape, explained_statement, statement_shape
from dashboard.queries.explain import (
    GENERIC_PLAN_OPTION_VERSION,
    ParameterSlot,
    analyze_refusal_without_catalog,
    parameter_slots,
    plain_refusal,
)
from dashboard.queries.extension import StatementsStatus, ready_statements_status
from dashboard.queries.sqlformat import (
    FormattedSQL,
    format_sql,
    recorded_text,
    statement_label,
)
from dashboard.target import read_only_setup, run_read

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
      AND (
          CAST(:console_role AS text) IS NULL
          OR r.rolname IS DISTINCT FROM CAST(:console_role AS text)
      )
    ORDER BY s.toplevel DESC, s.total_exec_time + s.total_plan_time DESC
"""


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
    analyze_refusal: str | None = None  # why EXPLAIN ANALYZE is not offered, as a sentence
    plain_refusal: str | None = None  # why not even a plain EXPLAIN can run here

    @property
    def label(self) -> str:
        return statement_label(self.query)

    @property
    def generic_plan_method(self) -> str:
        """Return how this server gives the plan for any parameter values."""
        if self.server_version_num >= GENERIC_PLAN_OPTION_VERSION:
            return "EXPLAIN (GENERIC_PLAN)"
        return "PREPARE, then EXPLAIN EXECUTE with plan_cache_mode = force_generic_plan"


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
    # The read-only role's entries are the console's own EXPLAIN ANALYZE runs, recorded under
    # the same queryid with the EXPLAIN text: never the application's statement.
    setup = read_only_setup()
    params = {"queryid": queryid, "console_role": setup.role if setup else None}
    keys = [dict(row) for row in conn.execute(sql, params).mappings()]
    for key in keys:
        key["total_ms"] = key["total_exec_ms"] + key["total_plan_ms"]
    parameters: list[ParameterSlot] = []
    explainable_here = any(key["database"] == status.database for key in keys)
    query = application_text([recorded_text(key["query"]) for key in keys])
    if explainable_here and statement_shape(query).explainable:
        parameters = parameter_slots(conn, query)  # the same transaction
    return _LiveDetail(status, keys, parameters)


def application_text(texts: list[str]) -> str:
    """Return the statement's own text among those recorded for one queryid.

    A statement explained by anyone (the console included, when track = all) is recorded again
    under the same queryid, nested, with the whole `EXPLAIN (…) …` as its text: the first text
    that is not an EXPLAIN wins; failing that, the statement inside the first EXPLAIN.
    """
    for candidate in texts:
        if explained_statement(candidate) is None:
            return candidate
    return next((explained_statement(t) or t for t in texts), "")


def statement_detail(queryid: int) -> tuple[StatementsStatus, StatementDetail]:
    """Return one statement (live figures, or its stored text when the target forgot it)."""
    live = run_read(lambda conn: _live_detail(conn, queryid))
    status, keys = live.status, live.keys
    if keys:
        query = application_text([recorded_text(key["query"]) for key in keys])
    else:
        query = application_text([snapshots.stored_texts([queryid]).get(queryid, "")])
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
    if shape.explainable and detail.in_this_database:
        detail.plain_refusal = plain_refusal(query)
        detail.analyze_refusal = analyze_refusal_without_catalog(query) or run_read(
            lambda conn: allow_list_refusal(conn, query, analyze=True)
        )
    return status, detail
