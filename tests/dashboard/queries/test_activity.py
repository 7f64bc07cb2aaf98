"""Live activity: sessions, the blocking tree from real locks, cancel/terminate for admins only."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import psycopg
import pytest

from dashboard.audit.models import AuditEvent
from dashboard.queries.activity import activity
from tests.dashboard.queries.conftest import as_superuser, scratch_table, wait_until

pytestmark = pytest.mark.django_db

SLEEPER = "SELECT pg_sleep(30) AS qt_sleeper"


@pytest.fixture
def lock_table() -> Iterator[None]:
    with scratch_table(
        "qt_lock",
        "CREATE TABLE qt_lock (id int PRIMARY KEY, v int NOT NULL)",
        "INSERT INTO qt_lock VALUES (1, 0)",
    ):
        yield


def _app_connection(**kwargs) -> psycopg.Connection:
    return psycopg.connect(os.environ["APP_DATABASE_URL"], **kwargs)


class Background:
    """A statement running in a thread on its own connection; remembers how it ended."""

    def __init__(self, sql: str, application: str, autocommit: bool = True) -> None:
        self.conn = _app_connection(autocommit=autocommit, application_name=application)
        self.pid = self.conn.info.backend_pid
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except BaseException as exc:  # the test inspects it
            self.error = exc

    def stop(self) -> None:
        as_superuser("SELECT pg_cancel_backend(%s)", (self.pid,))
        self.thread.join(timeout=10)
        self.conn.close()


def _session(pid: int, reveal: bool = True):
    return next(
        (s for s in activity(reveal_values=reveal, show_idle=True).sessions if s.pid == pid), None
    )


def test_blocking_tree_shows_the_blocker_and_its_waiter(lock_table, viewer_client, htmx_headers):
    blocker = _app_connection(application_name="qt-blocker")
    blocker.execute("UPDATE qt_lock SET v = v + 1 WHERE id = 1")  # holds the row lock, open tx
    waiter = Background(
        "SET lock_timeout = '15s'; UPDATE qt_lock SET v = v + 10 WHERE id = 1", "qt-waiter"
    )
    try:
        blocked = wait_until(lambda: (s := _session(waiter.pid)) and s.blocked_by and s)
        assert blocked, "the waiter never showed up as blocked"
        assert blocked.blocked_by == [blocker.info.backend_pid]
        # A row lock is waited on through the holder's transaction id.
        assert blocked.waiting_for == "ShareLock on transactionid"

        data = activity(reveal_values=True, show_idle=True)
        roots = {node.session.pid: node for node in data.tree}
        assert blocker.info.backend_pid in roots
        assert [w.session.pid for w in roots[blocker.info.backend_pid].waiters] == [waiter.pid]
        assert roots[blocker.info.backend_pid].session.state == "idle in transaction"

        full = viewer_client.get("/queries/activity/")
        assert full.status_code == 200
        body = full.content.decode()
        assert 'id="blocking-tree"' in body
        assert f"pid {blocker.info.backend_pid}" in body and f"pid {waiter.pid}" in body
        assert 'hx-trigger="every 3s"' in body  # polling

        partial = viewer_client.get("/queries/activity/", **htmx_headers)
        fragment = partial.content.decode()
        assert fragment.lstrip().startswith('<div id="activity"')
        assert "<html" not in fragment and f"blocked by {blocker.info.backend_pid}" in fragment

        paused = viewer_client.get("/queries/activity/", {"refresh": "off"}, **htmx_headers)
        assert "hx-trigger" not in paused.content.decode().split(">", 1)[0]
        assert "Resume auto-refresh" in paused.content.decode()
    finally:
        blocker.rollback()
        blocker.close()
        waiter.thread.join(timeout=10)
        waiter.conn.close()
    assert waiter.error is None  # it got the lock once the blocker rolled back


def test_viewers_see_constants_masked_engineers_see_them(viewer_client, engineer_client):
    sleeper = Background("SELECT pg_sleep(20), 'alice@example.com' AS qt_secret", "qt-secret")
    try:
        assert wait_until(lambda: (s := _session(sleeper.pid)) and s.state == "active")
        viewer_body = viewer_client.get("/queries/activity/").content.decode()
        engineer_body = engineer_client.get("/queries/activity/").content.decode()
        assert "qt_secret" in viewer_body and "alice@example.com" not in viewer_body
        assert "alice@example.com" in engineer_body
    finally:
        sleeper.stop()


def test_cancel_needs_admin_a_confirmation_and_is_audited(admin_client, engineer_client):
    sleeper = Background(SLEEPER, "qt-cancel-me")
    try:
        session = wait_until(lambda: (s := _session(sleeper.pid)) and s.state == "active" and s)
        url = f"/queries/activity/{sleeper.pid}/cancel/"

        assert engineer_client.get(url).status_code == 403
        assert engineer_client.post(url, {"confirm": "yes"}).status_code == 403

        confirm = admin_client.get(url)
        assert confirm.status_code == 200
        assert f"Cancel the running query of backend {sleeper.pid}?" in confirm.content.decode()
        assert "<html" in confirm.content.decode()
        inline = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert inline.lstrip().startswith('<section class="card q-confirm" id="signal-confirm"')

        unconfirmed = admin_client.post(url, {"backend_start": session.backend_start.isoformat()})
        assert unconfirmed.status_code == 400
        assert not AuditEvent.objects.filter(action="queries.cancel_backend").exists()
        assert _session(sleeper.pid).state == "active"

        done = admin_client.post(
            url,
            {"backend_start": session.backend_start.isoformat(), "confirm": "yes"},
            HTTP_HX_REQUEST="true",
        )
        assert done.status_code == 200
        assert f"Cancelled the running query of backend {sleeper.pid}" in done.content.decode()
        sleeper.thread.join(timeout=10)
        assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)

        event = AuditEvent.objects.get(action="queries.cancel_backend")
        assert event.detail["pid"] == sleeper.pid
        assert event.detail["sent"] is True
        assert event.detail["query_sha256"] == hashlib.sha256(SLEEPER.encode()).hexdigest()[:16]
        assert "pg_sleep" not in str(event.detail)
    finally:
        sleeper.stop()


def test_terminate_closes_the_connection_and_a_reused_pid_is_not_signalled(admin_client):
    idle = _app_connection(application_name="qt-terminate-me")
    idle.execute("SELECT 1")  # now idle in transaction
    pid = idle.info.backend_pid
    try:
        session = wait_until(lambda: _session(pid))
        url = f"/queries/activity/{pid}/terminate/"

        # A different start time stands for a new session that reused the pid: untouched.
        other_start = session.backend_start.replace(year=2000)
        stale = admin_client.post(url, {"backend_start": other_start.isoformat(), "confirm": "yes"})
        assert stale.status_code == 302
        assert _session(pid) is not None

        done = admin_client.post(
            url, {"backend_start": session.backend_start.isoformat(), "confirm": "yes"}
        )
        assert done.status_code == 302 and done["Location"] == "/queries/activity/"
        assert wait_until(lambda: _session(pid) is None)
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")
        events = list(AuditEvent.objects.filter(action="queries.terminate_backend").order_by("id"))
        assert [event.detail["sent"] for event in events] == [False, True]
        assert all(event.detail["pid"] == pid for event in events)
    finally:
        idle.close()


def test_signal_of_a_finished_backend_is_a_404(admin_client):
    assert admin_client.get("/queries/activity/1/cancel/").status_code == 404
    assert admin_client.get("/queries/activity/1/explode/").status_code == 404


def test_the_consoles_own_sessions_are_hidden_unless_asked(viewer_client, htmx_headers):
    # Named like the console (any role), and of the console's role (any name).
    named = Background("SELECT pg_sleep(20) AS qt_named_console", "schemadesk")
    by_role = psycopg.connect(os.environ["DATABASE_URL"], application_name="qt-console-role")
    by_role.execute("SELECT 1 AS qt_console_role")  # idle in transaction from now on
    app = Background("SELECT pg_sleep(20) AS qt_app_session", "qt-app")
    pids = {named.pid, by_role.info.backend_pid}
    try:
        assert wait_until(lambda: (s := _session(app.pid)) and s.state == "active")
        hidden = activity(reveal_values=True, show_idle=True)
        assert app.pid in {s.pid for s in hidden.sessions}
        assert not pids & {s.pid for s in hidden.sessions}
        assert hidden.hidden_console >= 2

        shown = activity(reveal_values=True, show_idle=True, show_console=True)
        assert pids <= {s.pid for s in shown.sessions}

        page = viewer_client.get("/queries/activity/").content.decode()
        assert "qt_app_session" in page and "qt_named_console" not in page
        assert "Show the console's own (" in page
        toggled = viewer_client.get(
            "/queries/activity/", {"console": "1", "idle": "1"}, **htmx_headers
        ).content.decode()
        assert "qt_named_console" in toggled and "qt_console_role" in toggled
        # The poll keeps both choices.
        assert 'hx-get="/queries/activity/?idle=1&amp;console=1"' in toggled
    finally:
        named.stop()
        app.stop()
        by_role.close()


def test_a_console_session_that_blocks_the_application_stays_visible(lock_table):
    blocker = psycopg.connect(os.environ["APP_DIRECT_URL"], application_name="schemadesk")
    blocker.execute("UPDATE qt_lock SET v = v + 1 WHERE id = 1")
    waiter = Background("SET lock_timeout = '15s'; UPDATE qt_lock SET v = 2 WHERE id = 1", "qt-w")
    try:
        assert wait_until(lambda: (s := _session(waiter.pid)) and s.blocked_by)
        assert blocker.info.backend_pid in {s.pid for s in activity(True, show_idle=True).sessions}
    finally:
        blocker.rollback()
        blocker.close()
        waiter.thread.join(timeout=10)
        waiter.conn.close()


def test_cancel_is_offered_only_for_a_running_query(admin_client, htmx_headers):
    runner = Background("SELECT pg_sleep(20) AS qt_running", "qt-running")
    idle = _app_connection(application_name="qt-idle-in-tx")
    idle.execute("SELECT 1 AS qt_idle")  # idle in transaction from now on
    idle_pid = idle.info.backend_pid
    try:
        assert wait_until(lambda: (s := _session(runner.pid)) and s.state == "active")
        assert wait_until(lambda: (s := _session(idle_pid)) and s.state == "idle in transaction")
        for body in (
            admin_client.get("/queries/activity/").content.decode(),
            admin_client.get("/queries/activity/", **htmx_headers).content.decode(),
        ):
            rows = {
                pid: body.split(f'data-pid="{pid}"', 1)[1].split("</tr>", 1)[0]
                for pid in (runner.pid, idle_pid)
            }
            assert f"/queries/activity/{runner.pid}/cancel/" in rows[runner.pid]
            assert f"/queries/activity/{runner.pid}/terminate/" in rows[runner.pid]
            assert f"/queries/activity/{idle_pid}/cancel/" not in rows[idle_pid]
            assert f"/queries/activity/{idle_pid}/terminate/" in rows[idle_pid]
            assert "its open transaction is rolled back" in rows[idle_pid]

        # Asked anyway (an old link, a session that just went idle): the page says why not.
        confirm = admin_client.get(f"/queries/activity/{idle_pid}/cancel/").content.decode()
        assert f"Nothing to cancel on backend {idle_pid}" in confirm
        assert "is idle in transaction: no query is running" in confirm
        assert f"/queries/activity/{idle_pid}/terminate/" in confirm
        assert 'name="confirm"' not in confirm

        session = _session(idle_pid)
        done = admin_client.post(
            f"/queries/activity/{idle_pid}/cancel/",
            {"backend_start": session.backend_start.isoformat(), "confirm": "yes"},
            **htmx_headers,
        ).content.decode()
        assert "nothing to cancel" in done and "Terminate it to end its open transaction" in done
        event = AuditEvent.objects.get(action="queries.cancel_backend")
        assert event.detail["sent"] is False
        idle.execute("SELECT 1")  # the session and its transaction are untouched
    finally:
        runner.stop()
        idle.close()


def test_the_consoles_own_statements_never_show_their_values(admin_client, engineer_client):
    """The console's Django connections send their values inline (client-side binding), and
    an idle session shows its last statement: an operator's session key (`WHERE session_key =
    '…'`) or password hash would be there for an engineer to take over an admin's session. The
    console's own sessions show their statements with the values masked, to everyone."""
    key = "qtsessionkey" + "x" * 20
    named = Background(f"SELECT pg_sleep(20), '{key}' AS session_key", "schemadesk")
    by_role = psycopg.connect(os.environ["DATABASE_URL"], application_name="qt-console-role")
    by_role.execute(f"SELECT '{key}' AS qt_console_role, 42 AS user_id")  # idle from now on
    try:

        def state() -> str:
            sessions = activity(reveal_values=True, show_idle=True, show_console=True).sessions
            return next((s.state for s in sessions if s.pid == named.pid), "")

        assert wait_until(lambda: state() == "active")
        for client in (engineer_client, admin_client):
            page = client.get("/queries/activity/", {"console": "1", "idle": "1"})
            body = page.content.decode()
            assert "session_key" in body and "qt_console_role" in body
            assert key not in body
        shown = activity(reveal_values=True, show_idle=True, show_console=True).sessions
        texts = {s.pid: s.query for s in shown}
        assert key not in texts[named.pid] and key not in texts[by_role.info.backend_pid]
        confirm = admin_client.get(f"/queries/activity/{named.pid}/cancel/")
        assert confirm.status_code == 200 and key not in confirm.content.decode()
    finally:
        named.stop()
        by_role.close()
