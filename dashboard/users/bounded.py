"""Statements that may run out of time without spoiling the rest of the transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg.errors
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a bounded piece of work returned, or that it ran out of time."""

    value: T | None
    timed_out: bool = False


def in_savepoint(conn: Connection, work: Callable[[Connection], T]) -> Outcome[T]:
    """Return work(conn) run inside a savepoint; a timeout rolls back to it and is reported.

    The transaction's statement_timeout (set by `run_read`) bounds each statement, and the
    savepoint keeps the transaction usable after one statement was cancelled.
    """
    try:
        with conn.begin_nested():
            return Outcome(work(conn))
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            return Outcome(None, timed_out=True)
        raise
