"""The one gateway to the target database: engine, read-only transactions, friendly errors.

Every read runs in `BEGIN READ ONLY` with `statement_timeout` and `lock_timeout` set for the
transaction only, and always rolls back. A read whose connection was lost (the backend was
terminated, the compute restarted) is retried with jittered backoff on a fresh connection.
Pooled connections are pinged only after sitting idle (`ping_when_idle`). A statement too big
to plan at every run (the user page's counts over hundreds of tables) can be prepared once per
connection (`execute_prepared`), except behind a pooler in transaction mode.

A restricted read (`run_read(..., restricted=True)`, used by EXPLAIN ANALYZE, which executes
statements) also runs as a read-only role: its own login (`TARGET_READONLY_DATABASE_URL`, a
connection opened for that read and closed after it), or else `SET LOCAL ROLE` to
`TARGET_READONLY_ROLE` on a pooled connection that is then thrown away, so that no session
state (advisory locks, settings) outlives the read. Before any statement runs, the role is
checked to be harmless: not a superuser, no `pg_signal_backend`, no server files, owning and
able to write no table of the target schema.

A plain EXPLAIN of a statement that writes (`run_read(..., as_application=True)`) needs the
rights to run it, even though it only plans it: PostgreSQL checks privileges when planning. It
runs as the application's runtime role (`TARGET_WRITE_DATABASE_URL`, the role row changes write
as; never a superuser), on a connection opened for that read and closed after it, in the same
READ ONLY transaction, rolled back: PostgreSQL plans a write there but refuses to execute one,
and the transaction cannot be made read-write once a statement has run in it.

Everything else here reads as the console's reader (TARGET_DATABASE_URL). What is more than reading
has URLs of its own, given out here and opened by the maintenance paths themselves: the
maintenance role's (`maintenance_url`, local branches and the admin's actions; defaults to the
target's URL) and the owner's that applying migrations runs as (`migrations_apply_url`; none by
default, and then applying from the console is refused).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg.errors
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.pool import NullPool

from core.config import uses_pooler
from core.engine import backoff_delay, is_transient
from dashboard.console_work import APPLICATION_NAME
from dashboard.infinite_dates import target_context
from dashboard.logfilters import redact_values
from dashboard.suggested_sql import quote_identifier

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


class ReadOnlyRoleProblem(TargetError):
    """The read-only role for restricted reads cannot be used, or could do harm."""

    status = 409


class ApplicationRoleProblem(TargetError):
    """The application's role, which plain EXPLAIN of a statement that writes runs as, is
    missing or could do more than the application."""

    status = 409


class TargetRejected(TargetError):
    """The database refused the statement itself (a bad value, a syntax or name error, an
    unsupported feature): the database's own words go to the operator."""

    status = 422


# SQLSTATE classes of a statement the database refuses while perfectly reachable: 22 data
# exception (a value out of range, invalid input), 42 syntax error or access rule violation
# (an ambiguous function, an unknown column; 42501, insufficient privilege, is a 403), 0A
# feature not supported. https://www.postgresql.org/docs/current/errcodes-appendix.html
REJECTED_CLASSES = ("22", "42", "0A")


def _settings() -> dict[str, Any]:
    from django.conf import settings

    return settings.TARGET


def _sqlalchemy_url(var: str) -> str:
    from dashboard.config import checked_database_url

    return psycopg_url(checked_database_url(var))


def psycopg_url(url: str) -> str:
    """Return a PostgreSQL URL in the form SQLAlchemy's psycopg driver takes."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def target_url() -> str:
    """Return the target's URL for SQLAlchemy (contains a secret: never log it)."""
    return _sqlalchemy_url(str(_settings()["URL_VAR"]))


@dataclass(frozen=True)
class ReadOnlySetup:
    """How restricted reads become the read-only role: its own login, or SET ROLE."""

    login: bool
    role: str


def read_only_setup() -> ReadOnlySetup | None:
    """Return how restricted reads run, or None when no read-only role is configured."""
    var = str(_settings().get("READONLY_URL_VAR") or "")
    if var:
        return ReadOnlySetup(True, make_url(_sqlalchemy_url(var)).username or "")
    role = str(_settings().get("READONLY_ROLE") or "")
    return ReadOnlySetup(False, role) if role else None


def application_url() -> str | None:
    """Return the application's runtime role's URL for SQLAlchemy (TARGET_WRITE_DATABASE_URL),
    or None when it is not set. A secret: never log it."""
    from django.conf import settings

    var = str(settings.TARGET_WRITE.get("URL_VAR") or "")
    return _sqlalchemy_url(var) if var else None


def maintenance_url() -> str:
    """Return the maintenance role's URL for SQLAlchemy (TARGET_MAINTENANCE_DATABASE_URL, else
    the target's): local branch clones and the admin's actions. A secret: never log it."""
    return _sqlalchemy_url(str(_settings().get("MAINTENANCE_URL_VAR") or _settings()["URL_VAR"]))


def migrations_apply_url() -> str | None:
    """Return the URL applying migrations runs as (MIGRATIONS_APPLY_DATABASE_URL), or None when
    it is not set (the console's reader cannot change the schema). A secret: never log it."""
    var = str(_settings().get("APPLY_URL_VAR") or "")
    return _sqlalchemy_url(var) if var else None


def target_location() -> str:
    """Return host:port/dbname of the target, safe to show (no user, no password)."""
    parts = urlsplit(target_url())
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def target_schema() -> str:
    return str(_settings()["SCHEMA"])


def _connect_args(url: str, application_name: str) -> dict[str, object]:
    # `context`: dates and timestamps 'infinity' / '-infinity' load (see infinite_dates.py).
    # psycopg's own automatic preparing is off: every read ends in ROLLBACK, after which psycopg
    # deallocates all it prepared (DEALLOCATE ALL), so it never outlived a read, and it would
    # take the statements `execute_prepared` keeps with it. (Behind PgBouncer in transaction
    # mode nothing may be prepared at all.)
    return {
        "connect_timeout": int(_settings()["CONNECT_TIMEOUT_S"]),
        "application_name": application_name,
        "prepare_threshold": None,
        "context": target_context(),
    }


@functools.cache
def engine() -> Engine:
    """Return the pooled engine for the target (created once per process)."""
    url = target_url()
    pooled = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_recycle=300,
        pool_timeout=10,
        pool_use_lifo=True,  # the busiest connection is reused; the others idle (and get pinged)
        connect_args=_connect_args(url, APPLICATION_NAME),
    )
    ping_when_idle(pooled, idle_seconds=float(_settings()["PING_AFTER_IDLE_S"]))
    return pooled


CHECKED_IN_AT = "schemadesk.checked_in_at"  # key of a pooled connection's `info`


def ping_when_idle(on: Engine, *, idle_seconds: float = 10.0) -> None:
    """Make `on`'s pool ping a connection before lending it when it sat unused for more than
    `idle_seconds` (a suspended compute or a pooler's idle timeout closed it), not on every
    checkout as `pool_pre_ping` does: a page read from a connection used a moment ago saves
    that round trip. A connection that died in between fails its read's first statement,
    which `run_read` retries on a fresh one (the pool drops the connections it held then)."""

    @event.listens_for(on, "checkin")
    def stamp(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(on, "checkout")
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(CHECKED_IN_AT)
        if returned is None or time.monotonic() - returned <= idle_seconds:
            return  # just connected, or used a moment ago
        try:
            on.dialect.do_ping(dbapi_connection)
        except psycopg.Error as exc:
            # The pool replaces the connection and tries again (its documented protocol).
            raise DisconnectionError("the pooled connection is gone") from exc


@functools.cache
def _unpooled_engine(url: str) -> Engine:
    """Return an engine without a pool (the read-only role's, the application role's): each
    connection is closed after its read."""
    return create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, APPLICATION_NAME))


@functools.cache
def maintenance_engine() -> Engine:
    """Return the maintenance role's engine: no pool (its actions are rare), each connection
    closed after its action."""
    url = maintenance_url()
    return create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, APPLICATION_NAME))


def reset_engine() -> None:
    """Drop the pooled engine (tests, or after the target's URL changed)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()
    _unpooled_engine.cache_clear()
    maintenance_engine.cache_clear()


def translate_error(
    exc: DBAPIError, restricted: bool = False, as_application: bool = False
) -> TargetError:
    """Return the operator-facing TargetError for a database error (detail for the log)."""
    original: BaseException = exc.orig if exc.orig is not None else exc
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
    if isinstance(original, psycopg.errors.InsufficientPrivilege) and restricted:
        return TargetPermissionDenied(
            "The read-only role that runs EXPLAIN ANALYZE is not allowed to do this: it may only "
            "read the application's tables. If a table is missing, grant it SELECT.",
            detail,
        )
    if isinstance(original, psycopg.errors.InsufficientPrivilege) and as_application:
        return TargetPermissionDenied(
            "The application's role (TARGET_WRITE_DATABASE_URL), which plans statements that "
            "write, is not allowed to do this: grant it the rights the application has.",
            detail,
        )
    if isinstance(original, psycopg.errors.InsufficientPrivilege):
        return TargetPermissionDenied(
            "The console's reader (the role of TARGET_DATABASE_URL) is not allowed to do this: "
            "it may only read the application's tables and statistics. If a table is missing, "
            "grant it SELECT; a statement that writes (even in a plain EXPLAIN of an INSERT, "
            "UPDATE or DELETE) needs rights it does not have.",
            detail,
        )
    sqlstate = getattr(original, "sqlstate", None) or ""
    # A DataError without a SQLSTATE was refused by the driver before sending (a NUL byte, an
    # integer no PostgreSQL type holds): the same kind of refusal.
    if sqlstate[:2] in REJECTED_CLASSES or (
        not sqlstate and isinstance(original, psycopg.DataError)
    ):
        return TargetRejected(
            rejection_sentence(original),
            f"{type(original).__name__} ({sqlstate or 'client'}): "
            f"{redact_values(_primary_message(original))}",
        )
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return TargetUnavailable(
            f"The target database ({target_location()}) is not reachable right now. "
            "Check that it is running and that TARGET_DATABASE_URL is right.",
            detail,
        )
    return TargetError("The database refused the query.", detail)


READ_ONLY_ROLE_SQL = text(
    """
    SELECT
        r.rolname AS role,
        r.rolsuper AS superuser,
        pg_catalog.pg_has_role(r.oid, 'pg_signal_backend', 'USAGE') AS signals,
        pg_catalog.pg_has_role(r.oid, 'pg_read_server_files', 'USAGE')
            OR pg_catalog.pg_has_role(r.oid, 'pg_write_server_files', 'USAGE')
            OR pg_catalog.pg_has_role(r.oid, 'pg_execute_server_program', 'USAGE')
            AS server_files,
        EXISTS (
            SELECT 1
            FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace = n.oid
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND (
                  pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
                  OR pg_catalog.has_table_privilege(
                      r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'
                  )
              )
        ) AS writes
    FROM pg_catalog.pg_roles AS r
    LEFT JOIN pg_catalog.pg_namespace AS n
        ON n.nspname = :schema
    WHERE r.rolname = current_user
    """
)


def read_only_role_problems(conn: Connection) -> list[str]:
    """Return what the current role could do beyond reading (empty when it is harmless)."""
    row = conn.execute(READ_ONLY_ROLE_SQL, {"schema": target_schema()}).mappings().one()
    problems = {
        "superuser": "is a superuser",
        "signals": "may end or cancel other sessions (pg_signal_backend)",
        "server_files": "may read or write server files or run programs",
        "writes": f"owns or may write tables of schema {target_schema()}",
    }
    return [sentence for key, sentence in problems.items() if row[key]]


def _begin_read_only(conn: Connection, timeout_ms: int | None, lock_timeout_ms: int | None) -> None:
    statement_timeout = timeout_ms or int(_settings()["STATEMENT_TIMEOUT_MS"])
    lock_timeout = lock_timeout_ms or int(_settings()["LOCK_TIMEOUT_MS"])
    # One round trip: read-only and both timeouts, all for this transaction only.
    conn.execute(
        text(
            "SELECT set_config('transaction_read_only', 'on', true), "
            "set_config('statement_timeout', :statement, true), "
            "set_config('lock_timeout', :lock, true)"
        ),
        {"statement": f"{statement_timeout}ms", "lock": f"{lock_timeout}ms"},
    )


PREPARED_NAMES = "schemadesk.prepared"  # key of a pooled connection's `info`: what it prepared
# What a session lent by a pooler in transaction mode answers: the statement prepared in an
# earlier transaction is not there (invalid_sql_statement_name), or another client's is
# (duplicate_prepared_statement).
SESSION_NOT_KEPT = ("26000", "42P05")
_prepared_kept = {"seen_lost": False}


class PreparedStatementLost(Exception):
    """A statement this connection prepared is gone (a pooler in transaction mode lends
    another server connection to each transaction): the read must be redone, unprepared."""


def prepared_statements_kept(conn: Connection) -> bool:
    """Return True when a statement prepared on `conn` outlives its transaction: not behind
    Neon's pooler (PgBouncer in transaction mode), nor once one was found gone (another
    pooler in transaction mode), after which this process no longer prepares."""
    return not uses_pooler(conn.engine.url) and not _prepared_kept["seen_lost"]


def execute_prepared(conn: Connection, statement: str, arguments: Mapping[str, str]) -> Any:
    """Return the result of `statement`, prepared once per connection.

    The statement takes no parameters: it reads its values with `current_setting(name)`, and
    `arguments` (name: value, names with a dot, e.g. `schemadesk.user_key`) are set for this
    transaction first (bound values, as always). Without parameters, PostgreSQL plans it once,
    when a connection first runs it (a generic plan, which `current_setting` keeps usable for
    index scans), and later runs skip parsing and planning: for a statement over hundreds of
    tables, planning took longer than running it. Only where `prepared_statements_kept`."""
    prepared: set[str] = conn.connection.info.setdefault(PREPARED_NAMES, set())
    name = "schemadesk_" + hashlib.sha256(statement.encode()).hexdigest()[:24]
    for setting, value in arguments.items():
        conn.execute(
            text("SELECT set_config(:setting, :value, true)"),
            {"setting": setting, "value": value},
        )
    try:
        if name not in prepared:
            conn.exec_driver_sql(f"PREPARE {name} AS {statement}")
            prepared.add(name)
        return conn.exec_driver_sql(f"EXECUTE {name}")
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) not in SESSION_NOT_KEPT:
            raise
        prepared.discard(name)
        _prepared_kept["seen_lost"] = True
        logger.warning(
            "a statement prepared on a target connection was gone, or there already, in another "
            "transaction (a pooler in transaction mode?): the console no longer prepares "
            "statements"
        )
        raise PreparedStatementLost(name) from exc


def _primary_message(error: BaseException) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        return str(primary).strip()
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else ""


def rejection_sentence(error: BaseException) -> str:
    """Return the operator's sentence for a refused statement: the database's primary message
    and hint (not its DETAIL, which can quote a row's values)."""
    primary = _primary_message(error) or "no reason given"
    diag = getattr(error, "diag", None)
    hint = (getattr(diag, "message_hint", None) or "") if diag is not None else ""
    sentence = f"The database refused the statement: {primary.rstrip('.')}."
    return f"{sentence} {hint.strip()}" if hint.strip() else sentence


@contextmanager
def read_only(
    timeout_ms: int | None = None, lock_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """Yield a connection inside a READ ONLY transaction with timeouts; always roll back."""
    with read_only_on(engine(), timeout_ms, lock_timeout_ms) as conn:
        yield conn


@contextmanager
def read_only_on(
    on: Engine, timeout_ms: int | None = None, lock_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """Yield a connection of `on` inside a READ ONLY transaction with timeouts; roll back."""
    with on.connect() as conn:
        try:
            _begin_read_only(conn, timeout_ms, lock_timeout_ms)
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()


def _become_read_only_role(conn: Connection, setup: ReadOnlySetup) -> None:
    """Switch to the read-only role (SET LOCAL ROLE) if needed, and check it is harmless."""
    if not setup.login:
        savepoint = conn.begin_nested()
        try:
            conn.execute(text("SELECT set_config('role', :role, true)"), {"role": setup.role})
        except DBAPIError as exc:
            savepoint.rollback()
            raise ReadOnlyRoleProblem(
                f"TARGET_READONLY_ROLE names “{setup.role}”, which the console's database role "
                "cannot switch to. Create it, or grant it: "
                f"GRANT {quote_identifier(setup.role)} TO <console role>.",
                f"{type(exc.orig).__name__}: {str(exc.orig).strip()}",
            ) from None
        savepoint.commit()
    problems = read_only_role_problems(conn)
    if problems:
        raise ReadOnlyRoleProblem(
            f"The read-only role “{setup.role}” {'; '.join(problems)}, so the console will not "
            "run statements as it. Give EXPLAIN ANALYZE a role that may only SELECT the "
            "application's tables (see the README's security section)."
        )


@contextmanager
def restricted_read_only(
    timeout_ms: int | None = None, lock_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """Yield a READ ONLY transaction as the read-only role; roll back, never reuse the session."""
    setup = read_only_setup()
    if setup is None:
        raise ReadOnlyRoleProblem("No read-only role is configured for restricted reads.")
    url = _sqlalchemy_url(str(_settings()["READONLY_URL_VAR"])) if setup.login else None
    with (_unpooled_engine(url) if url else engine()).connect() as conn:
        try:
            _begin_read_only(conn, timeout_ms, lock_timeout_ms)
            _become_read_only_role(conn, setup)
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            if not setup.login:
                conn.invalidate()  # a session that ran as the role never goes back to the pool


APPLICATION_ROLE_SQL = text(
    """
    SELECT r.rolname AS role, r.rolsuper AS superuser
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = current_user
    """
)


@contextmanager
def application_read_only(
    timeout_ms: int | None = None, lock_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """Yield a READ ONLY transaction as the application's runtime role; roll back, close."""
    url = application_url()
    if url is None:
        raise ApplicationRoleProblem(
            "The application's role is not configured (TARGET_WRITE_DATABASE_URL)."
        )
    with read_only_on(_unpooled_engine(url), timeout_ms, lock_timeout_ms) as conn:
        role = conn.execute(APPLICATION_ROLE_SQL).mappings().one()
        if role["superuser"]:
            raise ApplicationRoleProblem(
                f"The application's role “{role['role']}” (TARGET_WRITE_DATABASE_URL) is a "
                "superuser, so the console will not plan statements as it. Use the "
                "application's runtime role (see the README's security section)."
            )
        yield conn


def driver_connection(conn: Connection) -> psycopg.Connection[Any]:
    """Return the psycopg connection under `conn`, for what SQLAlchemy does not expose."""
    raw = conn.connection.driver_connection
    if raw is None:  # only a closed connection has none
        raise RuntimeError("the connection is closed")
    return raw


def run_read(
    work: Callable[[Connection], T],
    timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    *,
    restricted: bool = False,
    as_application: bool = False,
) -> T:
    """Return work(conn) run in a read-only transaction, retried if the connection was lost.

    With `restricted`, the transaction runs as the read-only role; with `as_application`, as
    the application's runtime role (see the module docstring).
    """
    if restricted and as_application:
        raise ValueError("a read runs as one role: restricted or as_application, not both")
    opener = (
        restricted_read_only
        if restricted
        else application_read_only
        if as_application
        else read_only
    )
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            with opener(timeout_ms, lock_timeout_ms) as conn:
                return work(conn)
        except DBAPIError as exc:
            # The application's own notion of a transient error (by SQLSTATE): a lost
            # connection is retried; a statement or lock timeout is not.
            if attempt < READ_ATTEMPTS and is_transient(exc):
                delay = backoff_delay(attempt + 1, base_delay=0.05, max_delay=2.0)
                logger.info("target read lost its connection (attempt %d); retrying", attempt)
                sleep(delay)
                continue
            error = translate_error(exc, restricted, as_application)
            if isinstance(error, TargetRejected):
                logger.warning("the target database refused a statement: %s", error.detail)
            raise error from exc
    raise AssertionError("unreachable")


class BranchUnavailable(TargetError):
    """A branch's database cannot be reached (or refused the read)."""


def run_branch_read(
    url: str,
    work: Callable[[Connection], T],
    timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
) -> T:
    """Return work(conn) run in a read-only transaction on a branch's database, rolled back.

    The same transaction as a target read (READ ONLY, transaction-local timeouts), on a
    connection of its own that is closed afterwards. `url` holds a password: never logged.
    """
    url = psycopg_url(url)
    branch_engine = create_engine(
        url, poolclass=NullPool, connect_args=_connect_args(url, APPLICATION_NAME)
    )
    try:
        with read_only_on(branch_engine, timeout_ms, lock_timeout_ms) as conn:
            return work(conn)
    except DBAPIError as exc:
        translated = translate_error(exc)
        if isinstance(translated, TargetUnavailable):
            raise BranchUnavailable(
                "The branch's database cannot be reached right now (a Neon compute may still be "
                "starting). Try again in a moment.",
                translated.detail,
            ) from exc
        raise translated from exc
    finally:
        branch_engine.dispose()
