"""The target gateway: read-only, timeouts, retry after a terminated backend, clear errors."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard import target
from tests.dashboard.queries.conftest import wait_until


@pytest.fixture(autouse=True)
def _fresh_engine():
    target.reset_engine()
    yield
    target.reset_engine()


def _backend_pid() -> int:
    return target.run_read(lambda conn: conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _backend_pid_with_retries() -> tuple[int, list[float]]:
    """Return the backend of a read, and the sleeps before its retries."""
    sleeps: list[float] = []
    pid = target.run_read(
        lambda conn: conn.execute(text("SELECT pg_backend_pid()")).scalar_one(),
        sleep=sleeps.append,
    )
    return pid, sleeps


def _terminate(pid: int) -> None:
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


PLANTED = "INSERT INTO users (id, email, name) VALUES ('gw_planted', 'gw@example.com', 'P')"


@pytest.mark.parametrize(
    ("url_var", "statement", "refusal"),
    [
        (None, "CREATE TABLE should_not_exist (id int)", "cannot execute CREATE TABLE"),
        # As the tables' owner, who may insert: the transaction refuses, not the role's rights.
        ("APP_DIRECT_URL", PLANTED, "cannot execute INSERT in a read-only transaction"),
    ],
    ids=["ddl-as-the-reader", "insert-as-a-role-that-may-write"],
)
def test_reads_are_read_only_and_rolled_back(settings, url_var, statement, refusal):
    if url_var:
        settings.TARGET = {**settings.TARGET, "URL_VAR": url_var}
        target.reset_engine()

    def attempt_write(conn):
        conn.execute(text(statement))

    with pytest.raises(target.TargetError) as caught:
        target.run_read(attempt_write)
    assert refusal in caught.value.detail
    with psycopg.connect(os.environ["APP_DIRECT_URL"]) as owner:
        assert owner.execute("SELECT count(*) FROM users WHERE id = 'gw_planted'").fetchone() == (
            0,
        )


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
    new_pid, sleeps = _backend_pid_with_retries()
    assert new_pid != pid
    # a ping (after idling) may already have replaced the dead connection; either way it works
    assert len(sleeps) <= 1


def _counting_pings(monkeypatch) -> list[int]:
    pings: list[int] = []
    dialect = target.engine().dialect
    original = dialect.do_ping

    def ping(dbapi_connection):
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    return pings


def test_a_connection_used_a_moment_ago_is_lent_without_a_ping(settings, monkeypatch):
    settings.TARGET = {**settings.TARGET, "PING_AFTER_IDLE_S": 3600}
    target.reset_engine()
    pings = _counting_pings(monkeypatch)
    first, second = _backend_pid(), _backend_pid()
    assert first == second  # the same pooled connection (the pool lends the latest first)
    assert pings == []  # a page read costs no extra round trip for pinging


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_if_dead(settings, monkeypatch):
    settings.TARGET = {**settings.TARGET, "PING_AFTER_IDLE_S": -1}  # every lent one is "idle"
    target.reset_engine()
    pings = _counting_pings(monkeypatch)
    pid = _backend_pid()
    assert pings == []  # a new connection is not pinged
    _terminate(pid)
    new_pid, sleeps = _backend_pid_with_retries()
    assert new_pid != pid
    assert len(pings) == 1  # the ping found it dead: the pool connected afresh
    assert sleeps == []  # ... before the read began, so nothing had to be retried


def test_a_connection_killed_right_after_use_costs_one_retry(settings):
    settings.TARGET = {**settings.TARGET, "PING_AFTER_IDLE_S": 3600}
    target.reset_engine()
    pid = _backend_pid()
    _terminate(pid)
    new_pid, sleeps = _backend_pid_with_retries()
    assert new_pid != pid and len(sleeps) == 1


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
def test_page_after_terminated_backend_renders_without_stack_trace(viewer_client, htmx_headers):
    facts = {"path": "/", "data": {"part": "facts"}, **htmx_headers}  # the Overview's target part
    assert viewer_client.get(**facts).status_code == 200
    _terminate(_backend_pid())
    response = viewer_client.get(**facts)
    assert response.status_code == 200
    assert b"Traceback" not in response.content
    assert b"PostgreSQL" in response.content and b"tables" in response.content


@pytest.mark.django_db
def test_page_with_target_down_shows_a_sentence(viewer_client, monkeypatch, settings, htmx_headers):
    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:hunter2@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    assert viewer_client.get("/").status_code == 200  # the Overview reads the target in parts
    for part in (
        viewer_client.get("/", {"part": "facts"}, **htmx_headers),
        viewer_client.get("/overview/connections/", **htmx_headers),
    ):
        assert part.status_code == 200  # each part says so in its place
        assert b"not reachable right now" in part.content
        assert b"hunter2" not in part.content
        assert b"Traceback" not in part.content


def test_lock_timeout_is_not_retried_as_a_lost_connection():
    owner = os.environ["APP_DIRECT_URL"]
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


# -- restricted reads: the read-only role EXPLAIN ANALYZE runs as -------------------------------

READONLY = "schemadesk_readonly"


@pytest.fixture(params=["login", "set role"])
def read_only_mode(request, settings) -> str:
    """Run the test with the read-only role's own login, then with SET ROLE from the reader."""
    if request.param == "set role":
        settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": READONLY}
    else:
        assert settings.TARGET["READONLY_URL_VAR"] == "TARGET_READONLY_DATABASE_URL"
    return request.param


def _restricted(sql: str, **params):
    return target.run_read(
        lambda conn: conn.execute(text(sql), params).all(), restricted=True, sleep=lambda s: None
    )


def _superuser_scalar(sql: str, params: tuple = ()):
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_restricted_reads_run_as_the_read_only_role(read_only_mode):
    ((user, session_user, read_only),) = _restricted(
        "SELECT current_user, session_user, current_setting('transaction_read_only')"
    )
    assert (user, read_only) == (READONLY, "on")
    assert session_user == (READONLY if read_only_mode == "login" else "schemadesk_reader")


def test_even_without_the_allow_list_the_role_cannot_signal_or_create_large_objects(
    read_only_mode,
):
    """The executor called directly, as if the allow-list had missed these functions."""
    with psycopg.connect(os.environ["APP_DATABASE_URL"], autocommit=True) as victim:
        pid = victim.info.backend_pid
        large_objects = _superuser_scalar("SELECT count(*) FROM pg_largeobject_metadata")
        for statement in (
            "SELECT pg_terminate_backend(:pid)",
            "SELECT pg_cancel_backend(:pid)",
            "SELECT lo_from_bytea(0, '\\x01'::bytea)",
            "SELECT lo_creat(-1)",
            "SELECT pg_logical_emit_message(false, 'qt', 'x')",
            "SELECT pg_read_file('/etc/hostname')",
            "SELECT pg_stat_statements_reset()",
            "SELECT pg_reload_conf()",
        ):
            with pytest.raises(target.TargetPermissionDenied) as caught:
                _restricted(statement, pid=pid)
            assert "read-only role" in caught.value.sentence
        assert victim.execute("SELECT 42").fetchone()[0] == 42  # still connected
        assert _superuser_scalar("SELECT count(*) FROM pg_largeobject_metadata") == large_objects


def test_the_login_role_cannot_switch_to_another_role():
    with pytest.raises(target.TargetPermissionDenied):
        _restricted("SELECT set_config('role', 'todo_owner', false)")


def test_session_state_does_not_outlive_a_restricted_read(read_only_mode):
    """An advisory lock (session level) dies with the connection, which is never reused."""
    ((pid, _),) = _restricted("SELECT pg_backend_pid(), pg_advisory_lock(424242)")
    # The backend leaves the server's views a moment after its connection closes.
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242"
    assert wait_until(lambda: _superuser_scalar(held) == 0)
    alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
    assert wait_until(lambda: _superuser_scalar(alive, (pid,)) == 0)


def test_a_role_that_could_do_harm_is_refused(settings):
    """TARGET_READONLY_DATABASE_URL pointing at the owner (pg_signal_backend, owns tables)."""
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "APP_DIRECT_URL"}
    with pytest.raises(target.ReadOnlyRoleProblem) as caught:
        _restricted("SELECT 1")
    assert "pg_signal_backend" in caught.value.sentence
    assert "owns or may write tables" in caught.value.sentence
    assert caught.value.status == 409


def test_a_role_the_console_cannot_switch_to_is_a_sentence(settings):
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": "qt_nobody"}
    with pytest.raises(target.ReadOnlyRoleProblem) as caught:
        _restricted("SELECT 1")
    assert "TARGET_READONLY_ROLE names “qt_nobody”" in caught.value.sentence
