"""The one gateway to the target database: engine, read-only transactions, friendly errors.

Every read runs in `BEGIN READ ONLY` with `statement_timeout` and `lock_timeout` set for the
transaction only, and always rolls back. A read whose connection was lost (the backend was
terminated, the compute restarted) is retried with jittered backoff on a fresh connection.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg.errors
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError

from core.config import uses_pooler
from core.engine import backoff_delay, is_transient

logger = logging.getLogger(__name__)
T = TypeVar("T")
READ_ATTEMPTS = 3


class TargetError(Exception):
    """A target-database failure with a sentence for the operator and detail for the log."""

    status = 503

    def __init__(self, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.detail = detail or sentence


class TargetUnavailable(TargetError):
    """The target database cannot be reached."""


class TargetTimeout(TargetError):
    """A statement ran past its timeout (or waited too long for a lock) and was cancelled."""

    status = 504


class TargetPermissionDenied(TargetError):
    """The console's role may not read something."""

    status = 403


def _settings() -> dict[str, object]:
    from django.conf import settings

    return settings.TARGET


def target_url() -> str:
    """Return the target's URL for SQLAlchemy (contains a secret: never log it)."""
    from dashboard.config import checked_database_url

    url = checked_database_url(str(_settings()["URL_VAR"]))
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def target_location() -> str:
    """Return host:port/dbname of the target, safe to show (no user, no password)."""
    parts = urlsplit(target_url())
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def target_schema() -> str:
    return str(_settings()["SCHEMA"])


@functools.cache
def engine() -> Engine:
    """Return the pooled engine for the target (created once per process)."""
    url = target_url()
    connect_args: dict[str, object] = {
        "connect_timeout": int(_settings()["CONNECT_TIMEOUT_S"]),  # type: ignore[call-overload]
        "application_name": "schemadesk-console",
    }
    if uses_pooler(make_url(url)):  # PgBouncer in transaction mode: no prepared statements
        connect_args["prepare_threshold"] = None
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_recycle=300,
        pool_timeout=10,
        connect_args=connect_args,
    )


def reset_engine() -> None:
    """Drop the pooled engine (tests, or after the target's URL changed)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()


def translate_error(exc: DBAPIError) -> TargetError:
    """Return the operator-facing TargetError for a database error (detail for the log)."""
    original = exc.orig
    detail = f"{type(original).__name__}: {str(original).strip()}"
    if isinstance(original, psycopg.errors.QueryCanceled):
        return TargetTimeout(
            "The database took too long to answer and the query was stopped. "
            "Narrow the filters or try again when the database is less busy.",
            detail,
        )
    if isinstance(original, psycopg.errors.LockNotAvailable):
        return TargetTimeout(
            "A table was locked by another session, so the query gave up waiting. "
            "Try again in a moment.",
            detail,
        )
    if isinstance(original, psycopg.errors.InsufficientPrivilege):
        return TargetPermissionDenied(
            "The console's database role is not allowed to read this. "
            "Grant it the privilege or use a role with access.",
            detail,
        )
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return TargetUnavailable(
            f"The target database ({target_location()}) is not reachable right now. "
            "Check that it is running and that TARGET_DATABASE_URL is right.",
            detail,
        )
    return TargetError("The database refused the query.", detail)


@contextmanager
def read_only(
    timeout_ms: int | None = None, lock_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """Yield a connection inside a READ ONLY transaction with timeouts; always roll back."""
    statement_timeout = timeout_ms or int(_settings()["STATEMENT_TIMEOUT_MS"])  # type: ignore[call-overload]
    lock_timeout = lock_timeout_ms or int(_settings()["LOCK_TIMEOUT_MS"])  # type: ignore[call-overload]
    with engine().connect() as conn:
        try:
            # One round trip: read-only and both timeouts, all for this transaction only.
            conn.execute(
                text(
                    "SELECT set_config('transaction_read_only', 'on', true), "
                    "set_config('statement_timeout', :statement, true), "
                    "set_config('lock_timeout', :lock, true)"
                ),
                {"statement": f"{statement_timeout}ms", "lock": f"{lock_timeout}ms"},
            )
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()


def run_read(
    work: Callable[[Connection], T],
    timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Return work(conn) run in a read-only transaction, retried if the connection was lost."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            with read_only(timeout_ms, lock_timeout_ms) as conn:
                return work(conn)
        except DBAPIError as exc:
            # The application's own notion of a transient error (by SQLSTATE): a lost
            # connection is retried; a statement or lock timeout is not.
            if attempt < READ_ATTEMPTS and is_transient(exc):
                delay = backoff_delay(attempt + 1, base_delay=0.05, max_delay=2.0)
                logger.info("target read lost its connection (attempt %d); retrying", attempt)
                sleep(delay)
                continue
            raise translate_error(exc) from exc
    raise AssertionError("unreachable")
