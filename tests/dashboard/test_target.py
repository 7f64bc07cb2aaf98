"""The target gateway: read-only, timeouts, retry after a terminated backend, clear errors."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard import target


@pytest.fixture(autouse=True)
def _fresh_engine():
    target.reset_engine()
    yield
    target.reset_engine()


def _backend_pid() -> int:
    return target.run_read(lambda conn: conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_reads_are_read_only_and_rolled_back():
    def attempt_write(conn):
        conn.execute(text("CREATE TABLE should_not_exist (id int)"))

    with pytest.raises(target.TargetError) as caught:
        target.run_read(attempt_write)
    assert "read-only" in caught.value.detail


def test_timeouts_are_set_for_the_transaction():
    settings = target.run_read(
        lambda conn: conn.execute(
            text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        ).one(),
        timeout_ms=1234,
        lock_timeout_ms=567,
    )
    assert tuple(settings) == ("1234ms", "567ms")


def test_statement_timeout_becomes_a_sentence():
    with pytest.raises(target.TargetTimeout) as caught:
        target.run_read(lambda conn: conn.execute(text("SELECT pg_sleep(2)")), timeout_ms=50)
    assert "took too long" in caught.value.sentence


def test_read_is_retried_after_the_backend_was_terminated():
    pid = _backend_pid()  # the pooled connection now belongs to this backend
    _terminate(pid)
    sleeps: list[float] = []
    new_pid = target.run_read(
        lambda conn: conn.execute(text("SELECT pg_backend_pid()")).scalar_one(),
        sleep=sleeps.append,
    )
    assert new_pid != pid
    # pool_pre_ping may already have replaced the dead connection; either way the read works
    assert len(sleeps) <= 1


def test_backend_terminated_mid_transaction_is_retried():
    """The connection dies between two statements of one read: the whole read is redone."""
    calls: list[int] = []

    def work(conn):
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        calls.append(pid)
        if len(calls) == 1:
            _terminate(pid)
        return conn.execute(text("SELECT 42")).scalar_one()

    sleeps: list[float] = []
    assert target.run_read(work, sleep=sleeps.append) == 42
    assert len(calls) == 2 and calls[0] != calls[1]
    assert len(sleeps) == 1


def test_unreachable_target_is_a_sentence_without_secrets(monkeypatch, settings):
    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:hunter2@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    with pytest.raises(target.TargetUnavailable) as caught:
        target.run_read(lambda conn: conn.execute(text("SELECT 1")), sleep=lambda s: None)
    assert "127.0.0.1:1/nowhere" in caught.value.sentence
    assert "hunter2" not in caught.value.sentence
    assert isinstance(caught.value.__cause__, DBAPIError)


@pytest.mark.django_db
def test_page_after_terminated_backend_renders_without_stack_trace(viewer_client):
    assert viewer_client.get("/").status_code == 200
    _terminate(_backend_pid())
    response = viewer_client.get("/")
    assert response.status_code == 200
    assert b"Traceback" not in response.content
    assert b"Tables" in response.content


@pytest.mark.django_db
def test_page_with_target_down_shows_a_sentence(viewer_client, monkeypatch, settings, htmx_headers):
    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:hunter2@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    response = viewer_client.get("/")
    assert response.status_code == 200  # the overview still renders its other parts
    assert b"not reachable right now" in response.content
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content


def test_lock_timeout_is_not_retried_as_a_lost_connection():
    owner = os.environ["TARGET_DATABASE_URL"]
    with psycopg.connect(owner) as holder:
        holder.execute("CREATE TABLE IF NOT EXISTS target_lock_probe (id int)")
        holder.commit()
        holder.execute("LOCK TABLE target_lock_probe IN ACCESS EXCLUSIVE MODE")
        sleeps: list[float] = []
        with pytest.raises(target.TargetTimeout) as caught:
            target.run_read(
                lambda conn: conn.execute(text("SELECT * FROM target_lock_probe")).all(),
                lock_timeout_ms=50,
                sleep=sleeps.append,
            )
        holder.rollback()
        holder.execute("DROP TABLE target_lock_probe")
        holder.commit()
    assert "locked by another session" in caught.value.sentence
    assert sleeps == []  # not retried
