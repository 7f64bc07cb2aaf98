"""The Overview's checklist: is anything wrong with the target, and where to act.

One function per line. Each computes its verdict with the existing services (history,
queries, users, schema, onboarding) and returns a CheckLine: a status (ok, warn, bad, or off
when the check does not apply), a sentence, the page to act on, and a few findings. Thresholds
are keyword arguments; the view passes the settings. A line that cannot be computed raises (a
TargetError with its sentence): the view shows that line's notice and the others still load.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from dashboard.console_work import console_roles
from dashboard.history.project import ProjectError, load_project
from dashboard.history.revisions import BEHIND, UNKNOWN_VERSION, UP_TO_DATE, database_state
from dashboard.home.templatetags.relative_time import relative_text
from dashboard.onboarding.checklist import BAD, OK, WARN
from dashboard.onboarding.checks import setup_checks
from dashboard.queries.activity import Session, activity
from dashboard.queries.health import ConnectionUsage, VacuumState, Wraparound
from dashboard.queries.indexes import index_report
from dashboard.queries.snapshots import slowest_since_last_snapshot
from dashboard.queries.sqlformat import statement_label
from dashboard.queries.templatetags.queries_format import ms, pct, seconds, thousands
from dashboard.schema.drift import drift_report, models_module_name
from dashboard.users.isolation import isolation_report
from dashboard.users.services import overview as users_overview

OFF = "off"  # the check does not apply here (no users table, no snapshot yet, …)
MAX_FINDINGS = 5


@dataclass(frozen=True)
class Finding:
    """One thing a line found: a short text, where to look at it, and whether it is SQL."""

    text: str
    url: str = ""
    sql: bool = False


@dataclass(frozen=True)
class CheckLine:
    """One line of the checklist."""

    key: str
    title: str
    status: str  # ok, warn, bad or off
    summary: str
    url: str  # where to act
    action: str  # the link's words
    findings: tuple[Finding, ...] = ()


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _worst(*statuses: str) -> str:
    order = [OFF, OK, WARN, BAD]
    return max(statuses, key=order.index)


# ---- migrations and drift ----------------------------------------------------------------------


def migrations_line(*, drift_timeout_ms: int = 30_000) -> CheckLine:
    """Return whether migrations are pending (or the database is ahead) and the schema drifts."""
    url = reverse("history:index")
    try:
        project = load_project()
    except ProjectError as exc:
        return CheckLine(
            "migrations",
            "Migrations and drift",
            WARN,
            f"The Alembic project could not be loaded: {exc.sentence}",
            url,
            "Open Migrations",
        )
    state = database_state(project)
    findings = [
        Finding(
            f"{revision.id}: {revision.message or 'no message'}",
            reverse("history:revision", args=[revision.id]),
        )
        for revision in state.pending[:MAX_FINDINGS]
    ]
    if state.status == UNKNOWN_VERSION:
        status = BAD
    elif state.status == UP_TO_DATE:
        status = OK
    else:
        status = WARN
    summary = (
        state.sentence
        if state.status != BEHIND
        else (f"{_plural(len(state.pending), 'revision')} pending: review, try on a branch, apply.")
    )
    if models_module_name():
        drift = drift_report(timeout_ms=drift_timeout_ms)
        if drift.error:
            status = _worst(status, WARN)
            summary += f" The drift check could not run: {drift.error}"
        elif drift.differences:
            status = _worst(status, WARN)
            summary += (
                f" The database differs from the models ({drift.models_module}) in "
                f"{_plural(len(drift.differences), 'way')}."
            )
            findings += [Finding(d.sentence, url) for d in drift.differences[:MAX_FINDINGS]]
        else:
            summary += f" The database matches the models ({drift.models_module})."
    else:
        summary += " Drift against the models is not checked (SCHEMA_MODELS is unset)."
    return CheckLine(
        "migrations",
        "Migrations and drift",
        status,
        summary,
        url,
        "Open Migrations",
        tuple(findings),
    )


# ---- sessions ------------------------------------------------------------------------------------


def _session_text(session: Session) -> str:
    who = session.username or "?"
    if session.application:
        who += f" · {session.application}"
    return f"pid {session.pid} ({who}), {session.state or session.backend_type} for " + seconds(
        session.duration_seconds
    )


def sessions_line(
    *,
    long_running_seconds: int = 60,
    idle_in_transaction_seconds: int = 30,
    timeout_ms: int | None = None,
) -> CheckLine:
    """Return whether sessions wait on locks, run long, or sit idle in a transaction."""
    url = reverse("queries:activity")
    now = activity(
        reveal_values=False,
        long_running_seconds=long_running_seconds,
        idle_in_transaction_seconds=idle_in_transaction_seconds,
        timeout_ms=timeout_ms or 3000,
    )
    title = "Blocking and long transactions"
    sentences = []
    findings = [
        Finding(f"{_session_text(node.session)} blocks {_plural(len(node.waiters), 'session')}")
        for node in now.tree
    ]
    if now.tree:
        sentences.append(
            f"{_plural(now.waiting, 'session')} {'waits' if now.waiting == 1 else 'wait'} on a "
            "lock another session holds: end the blocker, or wait for it."
        )
    blockers = {node.session.pid for node in now.tree}
    idle = [s for s in now.sessions if s.idle_in_transaction and s.pid not in blockers]
    long = [s for s in now.sessions if s.long_running and s.pid not in blockers]
    if idle:
        sentences.append(
            f"{_plural(len(idle), 'session')} idle in a transaction for more than "
            f"{idle_in_transaction_seconds} s (holding locks, holding back vacuum)."
        )
    if long:
        sentences.append(
            f"{_plural(len(long), 'query', 'queries')} running for more than "
            f"{long_running_seconds} s."
        )
    findings += [Finding(_session_text(s)) for s in idle + long]
    if sentences:
        return CheckLine(
            "sessions",
            title,
            BAD if now.tree else WARN,
            " ".join(sentences),
            url,
            "Open Activity",
            tuple(findings[:MAX_FINDINGS]),
        )
    return CheckLine(
        "sessions",
        title,
        OK,
        f"No session waits on a lock; none runs a query longer than {long_running_seconds} s "
        f"or sits idle in a transaction longer than {idle_in_transaction_seconds} s.",
        url,
        "Open Activity",
    )


# ---- statements ----------------------------------------------------------------------------------


def statements_line(
    *,
    slow_ms: float = 100.0,
    very_slow_ms: float = 1000.0,
    min_calls: int = 5,
    timeout_ms: int | None = None,
) -> CheckLine:
    """Return the statements with the highest mean time since the last snapshot."""
    title = "Slowest statements since the last snapshot"
    list_url = reverse("queries:statements") + "?" + urlencode({"sort": "mean"})
    since = slowest_since_last_snapshot(
        min_calls=min_calls, hidden_roles=console_roles(), timeout_ms=timeout_ms
    )
    if not since.status.ready:
        return CheckLine(
            "statements", title, WARN, since.status.sentence, list_url, "Open Slow queries"
        )
    if since.snapshot_at is None:
        return CheckLine(
            "statements",
            title,
            OFF,
            "No snapshot of pg_stat_statements yet: the worker takes one every few minutes "
            "(or take one now).",
            reverse("queries:snapshots"),
            "Open Snapshots",
        )
    findings = tuple(
        Finding(
            f"{statement_label(s.text, 80)} — mean {ms(s.mean_ms)} over {_plural(s.calls, 'call')}",
            reverse("queries:statement", args=[s.queryid]),
            sql=True,
        )
        for s in since.statements
        if s.mean_ms >= slow_ms
    )
    taken = timezone.localtime(since.snapshot_at)
    when = f"the snapshot taken {relative_text(since.snapshot_at, timezone.now())} ({taken:%H:%M})"
    if not since.statements:
        return CheckLine(
            "statements",
            title,
            OK,
            f"No statement ran at least {_plural(min_calls, 'time')} since {when}.",
            list_url,
            "Open Slow queries",
        )
    slowest = since.statements[0].mean_ms
    if slowest >= very_slow_ms:
        status, verdict = BAD, f"a mean of {ms(very_slow_ms)} or more"
    elif slowest >= slow_ms:
        status, verdict = WARN, f"a mean of {ms(slow_ms)} or more"
    else:
        status, verdict = OK, f"no mean reaches {ms(slow_ms)}; the slowest: {ms(slowest)}"
    return CheckLine(
        "statements",
        title,
        status,
        f"Since {when}, among statements run at least {_plural(min_calls, 'time')}: {verdict}.",
        list_url,
        "Open Slow queries",
        findings,
    )


# ---- indexes -------------------------------------------------------------------------------------


def indexes_line(
    *, owner_columns: frozenset[tuple[str, str]] = frozenset(), timeout_ms: int | None = None
) -> CheckLine:
    """Return invalid, unused and redundant indexes (never an owner column's index)."""
    url = reverse("queries:indexes")
    report = index_report(owner_columns=owner_columns, timeout_ms=timeout_ms)
    title = "Indexes"
    sentences = []
    if report.invalid:
        sentences.append(
            f"{_plural(len(report.invalid), 'invalid index', 'invalid indexes')} (a failed "
            "CREATE INDEX CONCURRENTLY): writes pay for them and no read uses them; drop and "
            "build again."
        )
    wasted = []
    if report.unused:
        wasted.append(_plural(len(report.unused), "unused index", "unused indexes"))
    if report.redundant:
        wasted.append(
            _plural(
                len(report.redundant),
                "duplicate or redundant index",
                "duplicate or redundant indexes",
            )
        )
    if wasted:
        sentences.append(
            f"{' and '.join(wasted).capitalize()}: they slow every write (an index on a column "
            "that ties rows to their user is kept, never counted here)."
        )
    findings = (
        [f"{i.name} on {i.table} (invalid)" for i in report.invalid]
        + [f"{i.name} on {i.table} (never scanned)" for i in report.unused]
        + [
            f"{r.index.name} on {r.index.table} (covered by {r.covered_by.name})"
            for r in report.redundant
        ]
    )
    if sentences:
        return CheckLine(
            "indexes",
            title,
            BAD if report.invalid else WARN,
            " ".join(sentences),
            url + ("#invalid-indexes" if report.invalid else "#unused-indexes"),
            "Open Indexes",
            tuple(Finding(text) for text in findings[:MAX_FINDINGS]),
        )
    return CheckLine(
        "indexes",
        title,
        OK,
        f"No invalid, unused or redundant index among the {len(report.catalog)} of "
        f"{report.schema}.",
        url,
        "Open Indexes",
    )


# ---- isolation -----------------------------------------------------------------------------------


def isolation_line(*, can_open_report: bool = True) -> CheckLine:
    """Return the user-owned tables without row-level security or an owner-column index."""
    title = "Isolation of users' data"
    report_url = reverse("users:isolation") if can_open_report else reverse("schema:tables")
    action = "Open the isolation report" if can_open_report else "Open Schema"
    found = users_overview()
    if found.owners is None:
        return CheckLine("isolation", title, OFF, found.problem, reverse("users:ownership"), "")
    report = isolation_report(found.owners)
    without_rls = report.without_rls
    unindexed = report.with_unindexed_owner
    if not without_rls and not unindexed:
        return CheckLine(
            "isolation",
            title,
            OK,
            f"All {_plural(len(report.rows), 'table')} owned through {report.users_table} have "
            "row-level security and an index on each owner column.",
            report_url,
            action,
        )
    parts = []
    if without_rls:
        parts.append(f"{_plural(len(without_rls), 'user-owned table')} without row-level security")
    if unindexed:
        parts.append(f"{_plural(len(unindexed), 'owner column')} without an index")
    findings = [Finding(f"{row.table}: row-level security off") for row in without_rls] + [
        Finding(f"{row.table}: no index on {', '.join(m.label for m in row.unindexed)}")
        for row in unindexed
    ]
    return CheckLine(
        "isolation",
        title,
        WARN,
        " and ".join(parts).capitalize() + ".",
        report_url,
        action,
        tuple(findings[:MAX_FINDINGS]),
    )


# ---- connections, wraparound, dead rows (the Health page's numbers, read one at a time) ------


def connections_line(
    health: ConnectionUsage, *, warn_percent: float = 70.0, bad_percent: float = 90.0
) -> CheckLine:
    """Return the client connections against max_connections (less the reserved ones)."""
    percent = health.connection_percent
    status = BAD if percent >= bad_percent else WARN if percent >= warn_percent else OK
    summary = (
        f"{health.client_connections:,} of {health.usable_connections:,} usable connections "
        f"({pct(percent, 0)}; max_connections {health.max_connections:,} less "
        f"{health.reserved_connections} reserved)."
    )
    if status != OK:
        summary += " New connections will be refused at the limit: look for idle ones or a pooler."
    return CheckLine(
        "connections",
        "Connections",
        status,
        summary,
        reverse("queries:health") + "#connections",
        "Open Health",
    )


def wraparound_line(
    health: Wraparound, *, warn_percent: float = 25.0, bad_percent: float = 50.0
) -> CheckLine:
    """Return the oldest transaction ID age against the wraparound limit."""
    percent = health.wraparound_percent
    behind = [row for row in health.databases if row["past_freeze_max_age"]]
    if percent >= bad_percent:
        status = BAD
    elif percent >= warn_percent or behind:
        status = WARN
    else:
        status = OK
    summary = (
        f"Oldest transaction ID age {thousands(health.oldest_xid_age)}: "
        f"{pct(percent)} of the way to wraparound, where PostgreSQL stops accepting writes."
    )
    if behind:
        summary += (
            f" Past autovacuum_freeze_max_age ({thousands(health.freeze_max_age)}): "
            "autovacuum should be freezing now; look for what holds it back."
        )
    return CheckLine(
        "wraparound",
        "Transaction ID wraparound",
        status,
        summary,
        reverse("queries:health") + "#wraparound",
        "Open Health",
        tuple(
            Finding(f"{row['database']}: age {thousands(row['xid_age'])}")
            for row in behind[:MAX_FINDINGS]
        ),
    )


def dead_rows_line(
    health: VacuumState, *, warn_percent: float = 20.0, bad_percent: float = 50.0
) -> CheckLine:
    """Return the tables whose dead rows passed autovacuum's threshold by a large share."""
    due = [
        row
        for row in health.tables
        if row["vacuum_due"] and (row["dead_percent"] or 0) >= warn_percent
    ]
    worst = max((row["dead_percent"] or 0 for row in due), default=0.0)
    status = BAD if due and worst >= bad_percent else WARN if due else OK
    if not health.autovacuum_on:
        status = _worst(status, WARN)
    findings = tuple(
        Finding(
            f"{row['table_name']}: {thousands(row['dead_rows'])} dead rows "
            f"({pct(row['dead_percent'])}), autovacuum due at {thousands(row['autovacuum_at'])}"
        )
        for row in due[:MAX_FINDINGS]
    )
    if due:
        summary = (
            f"{_plural(len(due), 'table')} of {health.schema} past autovacuum's threshold with "
            f"{pct(warn_percent, 0)} or more dead rows: vacuum is behind or held back."
        )
    else:
        summary = (
            f"No table of {health.schema} has dead rows piling up past autovacuum's threshold."
        )
    if not health.autovacuum_on:
        summary += " Autovacuum is off."
    return CheckLine(
        "dead-rows",
        "Dead rows and vacuum",
        status,
        summary,
        reverse("queries:health") + "#vacuum",
        "Open Health",
        findings,
    )


# ---- setup ---------------------------------------------------------------------------------------


def setup_line(*, request_secure: bool | None = None) -> CheckLine:
    """Return the setup checklist of `manage.py doctor` as one line (admins)."""
    checks = setup_checks(request_secure=request_secure)
    problems = [check for check in checks if check.status != OK]
    status = _worst(OK, *(check.status for check in problems))
    if problems:
        summary = (
            f"{len(problems)} of {len(checks)} setup checks to look at (extensions, grants, "
            "roles, the Alembic project): each says how to fix it."
        )
    else:
        summary = f"All {len(checks)} setup checks pass (extensions, grants, roles, the project)."
    return CheckLine(
        "setup",
        "Setup",
        status,
        summary,
        reverse("setup_checks"),
        "Open the setup checks",
        tuple(Finding(f"{check.title}: {check.found}") for check in problems[:MAX_FINDINGS]),
    )
