"""Engines: pooler awareness, timeouts, pre-ping, and retries of reads on transient errors."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from core.access import create_task, list_tasks, user_session
from core.config import ConnectionOptions, load_settings
from core.engine import (
    backoff_delay,
    connect_args,
    create_app_engine,
    is_transient,
    retry_read,
    safe_error_text,
    session_factory,
)

POOLED = make_url("postgresql+psycopg://u:pw@ep-a-1-pooler.eu-central-1.aws.neon.tech/db")
DIRECT = make_url("postgresql+psycopg://u:pw@ep-a-1.eu-central-1.aws.neon.tech/db")


def terminate(superuser_url: str, pid: int) -> None:
    """Terminate backend `pid` and wait (up to 5 s) until it is gone."""
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
    assert row == (True,)


def backend_pid(session_or_conn) -> int:
    return session_or_conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


# -- options --------------------------------------------------------------------------------
def test_connect_args_behind_the_pooler_turn_prepared_statements_off():
    options = ConnectionOptions(statement_timeout_ms=1000, application_name="todo-web")
    args = connect_args(POOLED, options, pooled=True)
    assert args["prepare_threshold"] is None
    assert args["connect_timeout"] == 5
    assert args["application_name"] == "todo-web"
    assert "options" not in args  # a startup -c option does not hold behind PgBouncer


def test_connect_args_on_a_direct_host_keep_prepared_statements():
    args = connect_args(DIRECT, ConnectionOptions(statement_timeout_ms=1000), pooled=True)
    assert "prepare_threshold" not in args
    assert args["options"] == "-c statement_timeout=1000"
    forced = connect_args(DIRECT, ConnectionOptions(disable_prepare=True), pooled=True)
    assert forced["prepare_threshold"] is None


def test_app_engine_options():
    engine = create_app_engine(load_settings())
    try:
        assert engine.pool._pre_ping is True
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


# -- against the database -------------------------------------------------------------------
def test_application_name_and_direct_statement_timeout():
    settings = load_settings()
    settings = replace(
        settings,
        options=replace(settings.options, statement_timeout_ms=1500, application_name="core-test"),
    )
    engine = create_app_engine(settings)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW application_name")).scalar() == "core-test"
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
            with pytest.raises(OperationalError) as error:
                conn.execute(text("SELECT pg_sleep(3)"))
        assert error.value.orig.sqlstate == "57014"
        assert not is_transient(error.value)  # a timeout is not retried
    finally:
        engine.dispose()


def test_forced_pooler_mode_sets_the_timeout_per_transaction_only():
    settings = load_settings()
    settings = replace(settings, options=replace(settings.options, statement_timeout_ms=1234))
    engine = create_app_engine(settings, pooler=True)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver.prepare_threshold is None
            with conn.begin():
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
            # Outside SQLAlchemy's transaction the connection carries nothing over.
            assert driver.execute("SHOW statement_timeout").fetchone() == ("0",)
            driver.rollback()
    finally:
        engine.dispose()


def test_session_factory_keeps_objects_usable_after_commit(
    app_engine: Engine, make_user: Callable[..., str]
):
    user = make_user()
    with user_session(user, session_factory(app_engine)) as session:
        task = create_task(session, user, title="Survives commit")
    assert task.title == "Survives commit" and task.id is not None


def test_pre_ping_replaces_a_pooled_connection_killed_while_idle(
    app_engine: Engine, superuser_url: str
):
    with app_engine.connect() as conn:
        first = backend_pid(conn)
    terminate(superuser_url, first)
    with app_engine.connect() as conn:  # no error: the pool pinged and reconnected
        assert backend_pid(conn) != first


def test_read_is_retried_when_its_backend_is_terminated_mid_session(
    app_engine: Engine,
    app_sessions,
    make_user: Callable[..., str],
    superuser_url: str,
    caplog: pytest.LogCaptureFixture,
):
    user = make_user()
    with user_session(user, app_sessions) as session:
        create_task(session, user, title="Still here after a restart")
    pids: list[int] = []
    sleeps: list[float] = []

    @retry_read(attempts=3, base_delay=0.01, sleep=sleeps.append)
    def titles() -> list[str]:
        with user_session(user, app_sessions) as session:
            pids.append(backend_pid(session))
            if len(pids) == 1:
                terminate(superuser_url, pids[0])  # the session holds this connection
            return [task.title for task in list_tasks(session, user).items]

    with caplog.at_level(logging.WARNING, logger="core.engine"):
        assert titles() == ["Still here after a restart"]
    assert len(pids) == 2 and pids[0] != pids[1]
    assert len(sleeps) == 1
    assert "attempt 1 of 3" in caplog.text
    password = make_url(os.environ["APP_DATABASE_URL"]).password
    assert password and password not in caplog.text


def test_retry_gives_up_after_the_attempts(app_sessions, superuser_url: str):
    calls: list[int] = []

    @retry_read(attempts=3, base_delay=0.01, sleep=lambda _seconds: None)
    def always_killed() -> int:
        with app_sessions() as session:
            calls.append(backend_pid(session))
            terminate(superuser_url, calls[-1])
            return session.execute(text("SELECT 1")).scalar_one()

    with pytest.raises(OperationalError) as error:
        always_killed()
    assert is_transient(error.value)
    assert len(calls) == 3


def test_non_transient_errors_are_not_retried(app_sessions):
    calls: list[int] = []

    @retry_read(sleep=lambda _seconds: None)
    def broken() -> None:
        calls.append(1)
        with app_sessions() as session:
            session.execute(text("SELEC 1"))

    with pytest.raises(ProgrammingError):
        broken()
    assert calls == [1]


# -- pure helpers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (psycopg.errors.CannotConnectNow("starting up"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.QueryCanceled("statement timeout"), False),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (psycopg.errors.SyntaxError("syntax"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_is_transient(error: Exception, transient: bool):
    assert is_transient(error) is transient


def test_backoff_is_bounded_and_jittered():
    delays = [backoff_delay(attempt, 0.1, 1.0) for attempt in range(1, 10) for _ in range(50)]
    assert all(0 <= delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 100
    assert max(backoff_delay(1, 0.1, 1.0) for _ in range(200)) <= 0.1


def test_safe_error_text_masks_passwords():
    error = psycopg.OperationalError(
        "connection to postgresql://app:hunter2@db/x failed\npassword=hunter2 detail"
    )
    assert "hunter2" not in safe_error_text(error)
    assert "hunter2" not in safe_error_text(psycopg.OperationalError("password=hunter2 host=db"))


def test_retry_needs_one_attempt():
    with pytest.raises(ValueError):
        retry_read(attempts=0)


def test_retry_keeps_the_function_name():
    @retry_read
    def read_things() -> int:
        """Return things."""
        return 1

    assert read_things() == 1
    assert read_things.__name__ == "read_things"
