"""The console's only actions on the target server: signal a backend, reset statement statistics.

These are not reads, so they do not go through `run_read` (a READ ONLY transaction that is
rolled back would misdescribe them), nor run as the target reader, whose every read could then
end sessions: they run as the console's maintenance role (TARGET_MAINTENANCE_DATABASE_URL, with
pg_signal_backend and EXECUTE on pg_stat_statements_reset). Each opens its own connection, sets
a statement and lock timeout for its one transaction, and commits. Views call them only for
admins, after a confirmation step, and audit them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import psycopg.errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.queries.activity import cancellable, query_hash
from dashboard.queries.extension import qualified
from dashboard.target import (
    TargetError,
    TargetPermissionDenied,
    maintenance_engine,
    translate_error,
)

T = TypeVar("T")
ACTION_TIMEOUT_MS = 5000

# One statement per signal, chosen from this fixed pair: the pid must still be the same backend
# (same start time) that the operator confirmed, never a new one that reused the pid.
SIGNAL_SQL = {
    # Only a running query can be cancelled: an idle session (in a transaction or not) ignores
    # the signal, and Terminate is what ends its transaction.
    "cancel": text(
        """
        SELECT
            CASE
                WHEN a.state IN ('active', 'fastpath function call')
                    THEN pg_cancel_backend(a.pid)
                ELSE false
            END AS sent,
            coalesce(a.state, '') AS state,
            coalesce(a.query, '') AS query,
            a.usename AS username,
            a.application_name AS application
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.pid = :pid
          AND a.backend_start = :backend_start
        """
    ),
    "terminate": text(
        """
        SELECT
            pg_terminate_backend(a.pid) AS sent,
            coalesce(a.state, '') AS state,
            coalesce(a.query, '') AS query,
            a.usename AS username,
            a.application_name AS application
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.pid = :pid
          AND a.backend_start = :backend_start
        """
    ),
}

EXTENSION_SCHEMA_SQL = text(
    """
    SELECT n.nspname
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements'
    """
)


def _target_action(work: Callable[[Connection], T]) -> T:
    """Return work(conn) run in one committed transaction with statement and lock timeouts."""
    try:
        with maintenance_engine().connect() as conn:
            conn.execute(
                text(
                    "SELECT set_config('statement_timeout', :timeout, true), "
                    "set_config('lock_timeout', :timeout, true)"
                ),
                {"timeout": f"{ACTION_TIMEOUT_MS}ms"},
            )
            result = work(conn)
            conn.commit()
            return result
    except DBAPIError as exc:
        raise translate_error(exc) from exc


@dataclass(frozen=True)
class SignalOutcome:
    """What happened when a backend was signalled."""

    sent: bool
    sentence: str
    query_hash: str = ""
    username: str = ""
    application: str = ""


def nothing_to_cancel(pid: int, state: str) -> str:
    """Return why cancelling backend `pid` in `state` does nothing, and what does."""
    where = f"is {state}" if state else "runs no query"
    ends = "its open transaction" if state.startswith("idle in transaction") else "the session"
    return (
        f"Backend {pid} {where}: no query is running, so there is nothing to cancel. "
        f"Terminate it to end {ends} and release what it holds."
    )


def signal_backend(pid: int, backend_start: datetime, how: str) -> SignalOutcome:
    """Cancel the running query of, or terminate, backend `pid` if it is still that backend."""
    if how not in SIGNAL_SQL:
        raise ValueError(f"unknown signal {how!r}")

    def work(conn: Connection):
        return (
            conn.execute(SIGNAL_SQL[how], {"pid": pid, "backend_start": backend_start})
            .mappings()
            .first()
        )

    try:
        row = _target_action(work)
    except TargetPermissionDenied as exc:
        raise TargetPermissionDenied(
            f"The console's maintenance role (TARGET_MAINTENANCE_DATABASE_URL) may not {how} "
            f"backend {pid}: it can signal only backends of roles it belongs to (or, with "
            "pg_signal_backend, of any non-superuser role). Superuser sessions must be "
            "signalled by a superuser.",
            exc.detail,
        ) from exc
    if row is None:
        return SignalOutcome(
            False,
            f"Backend {pid} is gone (or its pid now belongs to a new "
            "session), so nothing was signalled.",
        )
    verb = "Cancelled the running query of" if how == "cancel" else "Terminated"
    if row["sent"]:
        sentence = f"{verb} backend {pid}."
    elif how == "cancel" and not cancellable(row["state"]):
        sentence = nothing_to_cancel(pid, row["state"])
    else:
        sentence = f"Backend {pid} did not accept the signal (it may have just finished)."
    return SignalOutcome(
        bool(row["sent"]),
        sentence,
        query_hash(row["query"]),
        row["username"] or "",
        row["application"] or "",
    )


def reset_statement_statistics() -> str:
    """Reset pg_stat_statements for the target's database only; return the database's name."""

    def work(conn: Connection) -> str:
        schema = conn.execute(EXTENSION_SCHEMA_SQL).scalar()
        if schema is None:
            raise TargetError("pg_stat_statements is not enabled in this database.")
        function = qualified(conn, schema, "pg_stat_statements_reset")
        conn.execute(
            text(
                f"SELECT {function}(0, (SELECT oid FROM pg_catalog.pg_database "
                "WHERE datname = current_database()), 0)"
            )
        )
        return str(conn.execute(text("SELECT current_database()")).scalar_one())

    try:
        return _target_action(work)
    except TargetPermissionDenied as exc:
        raise TargetPermissionDenied(
            "The console's maintenance role (TARGET_MAINTENANCE_DATABASE_URL) may not reset "
            "pg_stat_statements. As a superuser, allow it: GRANT EXECUTE ON FUNCTION "
            "pg_stat_statements_reset TO <maintenance role>;",
            exc.detail,
        ) from exc
    except TargetError as exc:
        if isinstance(exc.__cause__, DBAPIError) and isinstance(
            exc.__cause__.orig, psycopg.errors.UndefinedFunction
        ):
            raise TargetError(
                "This pg_stat_statements cannot reset one database's statistics; "
                "update it: ALTER EXTENSION pg_stat_statements UPDATE;",
                exc.detail,
            ) from exc
        raise
