"""Engines and sessions for the application, aware of Neon's pooled and direct endpoints.

The application talks to the pooled URL (PgBouncer in transaction mode on Neon): psycopg's
server-side prepared statements are off there, and per-connection settings are applied per
transaction (`SET LOCAL`), because a session `SET` would leak to whichever client gets that
server connection next. Migrations and bulk loads use the direct URL.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar, overload

import psycopg
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from core.config import (
    ConnectionOptions,
    DatabaseSettings,
    direct_url,
    load_options,
    load_settings,
    parse_database_url,
    uses_pooler,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATEs worth a retry of a read: the connection went away or the server asked us to come
# back later. A statement timeout (57014) is not among them: retrying would only wait again.
TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: pg_terminate_backend, Neon compute restart
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting
        "53300",  # too_many_connections
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
    }
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


def prepared_statements_disabled(url: URL, options: ConnectionOptions) -> bool:
    """Return True when psycopg must not prepare statements (pooler host, or forced)."""
    if options.disable_prepare is not None:
        return options.disable_prepare
    return uses_pooler(url)


def connect_args(url: URL, options: ConnectionOptions, *, pooled: bool) -> dict[str, Any]:
    """Return the psycopg connect() keyword arguments for this URL and these options."""
    args: dict[str, Any] = {
        "connect_timeout": options.connect_timeout,
        "application_name": options.application_name,
    }
    if pooled and prepared_statements_disabled(url, options):
        args["prepare_threshold"] = None
    # A startup `-c` option only holds on a direct connection; behind the pooler the statement
    # timeout is set per transaction instead (see _set_local_statement_timeout).
    if options.statement_timeout_ms is not None and not uses_pooler(url):
        args["options"] = f"-c statement_timeout={options.statement_timeout_ms}"
    return args


def _set_local_statement_timeout(engine: Engine, timeout_ms: int) -> None:
    """Make every transaction of `engine` start with SET LOCAL statement_timeout."""

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Straight on the driver connection: psycopg opens the transaction with this statement,
        # and going through `conn` here would re-enter SQLAlchemy's own begin.
        driver = conn.connection.driver_connection
        assert driver is not None  # an open connection has its driver's
        driver.execute("SELECT set_config('statement_timeout', %s, true)", (str(timeout_ms),))


def create_app_engine(
    settings: DatabaseSettings | None = None, *, pooler: bool | None = None
) -> Engine:
    """Return the application's pooled engine (APP_DATABASE_URL); `pooler` forces the mode."""
    settings = settings or load_settings()
    url, options = settings.app_url, settings.options
    behind_pooler = uses_pooler(url) if pooler is None else pooler
    if pooler is not None and options.disable_prepare is None:
        options = replace(options, disable_prepare=pooler)
    args = connect_args(url, options, pooled=True)
    if behind_pooler:
        args.pop("options", None)
    engine = create_engine(
        url,
        connect_args=args,
        pool_pre_ping=True,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_recycle=300 if behind_pooler else 1800,
        pool_timeout=max(options.connect_timeout, 5),
    )
    if behind_pooler and options.statement_timeout_ms is not None:
        _set_local_statement_timeout(engine, options.statement_timeout_ms)
    return engine


def create_direct_engine(
    url: URL | str | None = None,
    *,
    options: ConnectionOptions | None = None,
    application_name: str | None = None,
) -> Engine:
    """Return an unpooled engine on the direct URL (migrations, bulk loads, admin work)."""
    if url is None:
        url = direct_url()
    elif isinstance(url, str):
        url = parse_database_url(url, "the direct database URL")
    options = options or load_options()
    if application_name:
        options = replace(options, application_name=application_name)
    return create_engine(
        url, connect_args=connect_args(url, options, pooled=False), poolclass=NullPool
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a factory of SQLModel sessions bound to `engine` (objects usable after commit)."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@functools.cache
def app_engine() -> Engine:
    """Return the process-wide application engine, created on first use."""
    return create_app_engine()


@functools.cache
def app_sessions() -> sessionmaker[Session]:
    """Return the process-wide session factory on `app_engine()`."""
    return session_factory(app_engine())


def reset_engines() -> None:
    """Dispose of the process-wide engine (after a fork, or between tests)."""
    if app_engine.cache_info().currsize:
        app_engine().dispose()
    app_engine.cache_clear()
    app_sessions.cache_clear()


def sqlstate_of(exc: BaseException) -> str | None:
    """Return the SQLSTATE of a psycopg or SQLAlchemy-wrapped error, if it has one."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None)


def is_transient(exc: BaseException) -> bool:
    """Return True when a read that failed with `exc` is worth trying again."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException | None = exc.orig
    else:
        orig = exc
    if not isinstance(orig, psycopg.Error):
        return False
    state = orig.sqlstate
    if state is None:
        # No SQLSTATE from the server: the connection broke (closed, reset, timed out).
        return isinstance(orig, psycopg.OperationalError)
    return state.startswith("08") or state in TRANSIENT_SQLSTATES


def mask_passwords(text: str) -> str:
    """Return `text` with the passwords of URLs (`://user:…@`) and of `password=…` masked."""
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def safe_error_text(exc: BaseException) -> str:
    """Return the first line of the error message, with any password masked."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = (str(orig).strip().splitlines() or [""])[0]
    return mask_passwords(text)[:300]


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """Return the sleep before retry number `attempt` (1-based): full-jitter exponential."""
    return random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))


@overload
def retry_read(fn: Callable[P, R]) -> Callable[P, R]: ...
@overload
def retry_read(
    fn: None = None,
    *,
    attempts: int = ...,
    base_delay: float = ...,
    max_delay: float = ...,
    sleep: Callable[[float], None] = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def retry_read(
    fn: Callable[P, R] | None = None,
    *,
    attempts: int = 4,
    base_delay: float = 0.1,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Return `fn` wrapped to retry transient errors with backoff: for READS ONLY.

    The wrapped function must open its own session or connection, so that a retry starts on a
    fresh one; a write must not be wrapped (the first attempt may have committed).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if attempt == attempts or not is_transient(exc):
                        raise
                    delay = backoff_delay(attempt, base_delay, max_delay)
                    log.warning(
                        "transient database error in %s (attempt %d of %d, sqlstate %s): %s; "
                        "retrying in %.2fs",
                        func.__qualname__,
                        attempt,
                        attempts,
                        sqlstate_of(exc) or "none",
                        safe_error_text(exc),
                        delay,
                    )
                    sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate if fn is None else decorate(fn)
