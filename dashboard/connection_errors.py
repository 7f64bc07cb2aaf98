"""Telling a refused or lost database connection from other errors, and logging it in one line.

During an outage the same connection error comes from every layer (Django, procrastinate, the
psycopg pool); its traceback says nothing the first line does not, and repeated for every
request or retry it buried everything else in the log.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool

from core.engine import TRANSIENT_SQLSTATES, safe_error_text

# SQLSTATEs of a server that is going away or not yet there (08: connection exceptions).
UNREACHABLE_SQLSTATES = {state for state in TRANSIENT_SQLSTATES if state.startswith("57P")}
MAX_CAUSES = 10


def connection_failure(exc: BaseException | None) -> BaseException | None:
    """Return the error in `exc`'s cause chain saying the database is unreachable, else None."""
    for _ in range(MAX_CAUSES):
        if exc is None:
            return None
        if isinstance(exc, psycopg_pool.PoolTimeout):
            return exc
        if isinstance(exc, psycopg.OperationalError):
            state = exc.sqlstate
            if state is None or state.startswith("08") or state in UNREACHABLE_SQLSTATES:
                return exc
            return None
        exc = exc.__cause__ or exc.__context__
    return None


class ConnectionErrorsInOneLine(logging.Filter):
    """Log a record whose exception is an unreachable database as one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        failure = connection_failure(record.exc_info[1])
        if failure is not None:
            message = " ".join(record.getMessage().split())  # one line, even if it was not
            record.msg = f"{message} ({safe_error_text(failure)})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
