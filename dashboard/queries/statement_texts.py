"""Statement texts by queryid: read on demand, cached for the list, and the top statements.

Texts are read with `showtext := true` only for the queryids asked for; the one-line texts the
list shows are kept in a bounded in-process cache per target.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection, text

from dashboard.queries.extension import StatementsStatus, ready_statements_status
from dashboard.queries.sqlformat import one_line, recorded_text
from dashboard.target import run_read, target_location

# A statement someone explained is recorded again under its queryid, nested, with the EXPLAIN
# text: the top-level entry (the application's own) is preferred.
TEXTS_SQL = """
    SELECT DISTINCT ON (s.queryid)
        s.queryid,
        s.query
    FROM {function}(showtext := true) AS s
    WHERE s.queryid = ANY(CAST(:queryids AS bigint[]))
    ORDER BY s.queryid, s.toplevel DESC, s.calls DESC
"""


def statement_texts(conn: Connection, function: str, queryids: list[int]) -> dict[int, str]:
    """Return the text of each of `queryids` that pg_stat_statements still holds."""
    if not queryids:
        return {}
    sql = text(TEXTS_SQL.format(function=function))
    return {
        row.queryid: recorded_text(row.query) for row in conn.execute(sql, {"queryids": queryids})
    }


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
