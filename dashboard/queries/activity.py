"""Live sessions of the target server: state, durations, waits, and who blocks whom."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from dashboard.console_work import console_roles, is_console_session
from dashboard.queries.sqlformat import normalized_text, one_line, without_passwords
from dashboard.target import run_read

# pg_blocking_pids() takes the lock manager's locks briefly: call it only for sessions that
# wait on a heavyweight lock, the only ones it can report blockers for.
SESSIONS_SQL = text(
    """
    SELECT
        a.pid,
        a.datname AS database,
        a.usename AS username,
        a.application_name AS application,
        host(a.client_addr) AS client,
        a.backend_type,
        coalesce(a.state, '') AS state,
        a.backend_start,
        a.xact_start,
        a.query_start,
        extract(epoch FROM now() - a.query_start) AS query_seconds,
        extract(epoch FROM now() - a.xact_start) AS xact_seconds,
        extract(epoch FROM now() - a.state_change) AS state_seconds,
        a.wait_event_type,
        a.wait_event,
        left(a.query, 5000) AS query,
        CASE
            WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)
            ELSE ARRAY[]::int[]
        END AS blocked_by,
        CASE
            WHEN a.wait_event_type = 'Lock' THEN (
                SELECT l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype)
                FROM pg_catalog.pg_locks AS l
                WHERE l.pid = a.pid
                  AND NOT l.granted
                LIMIT 1
            )
        END AS waiting_for
    FROM pg_catalog.pg_stat_activity AS a
    WHERE a.pid <> pg_backend_pid()
      AND a.backend_type IN ('client backend', 'autovacuum worker')
    ORDER BY a.xact_start NULLS LAST, a.query_start NULLS LAST, a.pid
    """
)

CONNECTION_LIMIT_SQL = text(
    """
    SELECT
        current_setting('max_connections')::int AS max_connections,
        current_setting('superuser_reserved_connections')::int AS reserved,
        (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend') AS client_connections
    """
)


CANCELLABLE_STATES = ("active", "fastpath function call")


def cancellable(state: str) -> bool:
    """Return True when a session in `state` runs a query that a cancel would stop (an idle
    session ignores the signal: Terminate is what ends its transaction)."""
    return state in CANCELLABLE_STATES


@dataclass
class Session:
    """One backend as pg_stat_activity shows it, with what the page highlights."""

    pid: int
    database: str
    username: str
    application: str
    client: str
    backend_type: str
    state: str
    backend_start: datetime | None
    xact_start: datetime | None
    query_start: datetime | None
    query_seconds: float | None
    xact_seconds: float | None
    state_seconds: float | None
    wait_event_type: str | None
    wait_event: str | None
    query: str
    blocked_by: list[int]
    waiting_for: str | None
    blocking: list[int] = field(default_factory=list)
    long_running: bool = False
    idle_in_transaction: bool = False

    @property
    def duration_seconds(self) -> float | None:
        """Return how long it has been in its current situation (query, or idle transaction)."""
        if self.state.startswith("idle in transaction"):
            return self.xact_seconds
        if self.state == "active":
            return self.query_seconds
        return self.state_seconds

    @property
    def query_line(self) -> str:
        return one_line(self.query, 400)

    @property
    def cancellable(self) -> bool:
        return cancellable(self.state)

    @property
    def waiting(self) -> bool:
        return bool(self.blocked_by)

    @property
    def state_class(self) -> str:
        if self.waiting:
            return "bad"
        if self.idle_in_transaction or self.long_running:
            return "warn"
        return "ok" if self.state == "active" else ""


def query_hash(query: str) -> str:
    """Return a short fingerprint of a query text (audited instead of the text itself)."""
    return hashlib.sha256(query.encode()).hexdigest()[:16]


@dataclass
class BlockingNode:
    """A session in the blocking tree and the sessions waiting on it."""

    session: Session
    waiters: list[BlockingNode] = field(default_factory=list)


@dataclass
class Activity:
    """The sessions, their counts by state, and the blocking tree."""

    sessions: list[Session]
    by_state: dict[str, int]
    tree: list[BlockingNode]
    max_connections: int
    reserved_connections: int
    client_connections: int
    long_running_seconds: int
    idle_in_transaction_seconds: int
    show_idle: bool
    hidden_idle: int = 0
    show_console: bool = False
    hidden_console: int = 0
    console_roles: tuple[str, ...] = ()

    @property
    def waiting(self) -> int:
        return sum(1 for session in self.sessions if session.waiting)


def _blocking_tree(sessions: list[Session]) -> list[BlockingNode]:
    """Return trees rooted at sessions that block others and are not blocked themselves."""
    by_pid = {session.pid: session for session in sessions}
    for session in sessions:
        for blocker in session.blocked_by:
            if blocker in by_pid:
                by_pid[blocker].blocking.append(session.pid)

    def grow(session: Session, seen: frozenset[int]) -> BlockingNode:
        waiters = [
            grow(by_pid[pid], seen | {pid})
            for pid in session.blocking
            if pid in by_pid and pid not in seen  # a cycle is a deadlock Postgres will break
        ]
        return BlockingNode(session, waiters)

    roots = [
        session
        for session in sessions
        if session.blocking and not any(pid in by_pid for pid in session.blocked_by)
    ]
    if not roots:  # only cycles: start anywhere in them
        roots = [session for session in sessions if session.blocking][:1]
    return [grow(root, frozenset({root.pid})) for root in roots]


def _sessions(
    conn: Connection, reveal_values: bool, long_running: float, idle_limit: float
) -> list[Session]:
    """Return the server's sessions, their statements' constants masked unless `reveal_values`.

    The console's own sessions always have them masked, whoever looks: its Django connections
    send values inline, so an idle one shows e.g. `… WHERE session_key = '…'` (another
    operator's session, to take over) or a password hash.
    """
    roles = console_roles(conn)
    sessions = []
    for row in conn.execute(SESSIONS_SQL).mappings():
        session = Session(
            pid=row["pid"],
            database=row["database"] or "",
            username=row["username"] or "",
            application=row["application"] or "",
            client=row["client"] or "local",
            backend_type=row["backend_type"],
            state=row["state"],
            backend_start=row["backend_start"],
            xact_start=row["xact_start"],
            query_start=row["query_start"],
            query_seconds=_seconds(row["query_seconds"]),
            xact_seconds=_seconds(row["xact_seconds"]),
            state_seconds=_seconds(row["state_seconds"]),
            wait_event_type=row["wait_event_type"],
            wait_event=row["wait_event"],
            query=without_passwords(row["query"] or ""),
            blocked_by=list(row["blocked_by"] or []),
            waiting_for=row["waiting_for"],
        )
        own = is_console_session(session.application, session.username, roles)
        if session.query and (own or not reveal_values):
            session.query = normalized_text(session.query)
        session.long_running = (
            session.state == "active" and (session.query_seconds or 0) >= long_running
        )
        session.idle_in_transaction = (
            session.state.startswith("idle in transaction")
            and (session.xact_seconds or 0) >= idle_limit
        )
        sessions.append(session)
    return sessions


def _seconds(value: Any) -> float | None:
    return float(value) if value is not None else None


def activity(
    reveal_values: bool,
    show_idle: bool = False,
    show_console: bool = False,
    *,
    long_running_seconds: int = 60,
    idle_in_transaction_seconds: int = 30,
    timeout_ms: int = 3000,
) -> Activity:
    """Return the server's sessions (constants masked unless `reveal_values`) and blocking tree.

    The console's own sessions are left out unless `show_console`, except those that block
    or wait on another session (they are part of the story then). A query running for
    `long_running_seconds`, or a transaction idle for `idle_in_transaction_seconds`, is marked.
    """

    def work(conn: Connection) -> Activity:
        roles = console_roles(conn)
        every = _sessions(conn, reveal_values, long_running_seconds, idle_in_transaction_seconds)
        limits = conn.execute(CONNECTION_LIMIT_SQL).mappings().one()
        tree = _blocking_tree(every)
        sessions = every
        if not show_console:
            sessions = [
                s
                for s in every
                if s.blocking
                or s.waiting
                or not is_console_session(s.application, s.username, roles)
            ]
        by_state: dict[str, int] = {}
        for session in sessions:
            if session.backend_type == "client backend":
                key = session.state or "unknown"
                by_state[key] = by_state.get(key, 0) + 1
        shown = sessions
        if not show_idle:
            shown = [s for s in sessions if s.state != "idle" or s.blocking]
        return Activity(
            sessions=shown,
            by_state=dict(sorted(by_state.items(), key=lambda item: -item[1])),
            tree=tree,
            max_connections=limits["max_connections"],
            reserved_connections=limits["reserved"],
            client_connections=limits["client_connections"],
            long_running_seconds=long_running_seconds,
            idle_in_transaction_seconds=idle_in_transaction_seconds,
            show_idle=show_idle,
            hidden_idle=len(sessions) - len(shown),
            show_console=show_console,
            hidden_console=len(every) - len(sessions),
            console_roles=roles,
        )

    return run_read(work, timeout_ms=timeout_ms)


def session_for(pid: int, reveal_values: bool) -> Session | None:
    """Return one session by pid, or None when it is gone."""
    sessions = run_read(
        lambda conn: _sessions(conn, reveal_values, long_running=0, idle_limit=0),
        timeout_ms=3000,
    )
    return next((session for session in sessions if session.pid == pid), None)
