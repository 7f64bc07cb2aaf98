"""What the Migrations pages show, as plain data: one function per page or part."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PostgresLexer, PythonLexer

from dashboard.history.apply import ApplyPlan, apply_plan, apply_problem
from dashboard.history.graph import GraphLayout, revision_graph
from dashboard.history.models import RevisionSql, TrialRun
from dashboard.history.offline import ensure_revision_sql, ensure_revision_sqls
from dashboard.history.project import Project, ProjectError, load_project, project_settings
from dashboard.history.review import severity_counts
from dashboard.history.revisions import (
    UNKNOWN_VERSION,
    DatabaseState,
    Revision,
    database_state,
    revision_history,
    revision_named,
    revision_source,
)
from dashboard.history.statement_review import StatementReview, statement_review
from dashboard.jobs.abandoned import checked_run
from dashboard.paging import PageWindow, page_window
from dashboard.target import TargetError, migrations_apply_url

logger = logging.getLogger(__name__)
Operator = AbstractBaseUser | AnonymousUser | None
RECENT_TRIALS = 5
PENDING_REVIEW_LIMIT = 25
HISTORY_PAGE_SIZE = 50  # revisions a page of the history (list and graph) shows


@dataclass
class PendingReview:
    """One pending revision with the state of its generated SQL and review."""

    revision: Revision
    sql: RevisionSql

    @property
    def counts(self) -> dict[str, int]:
        return severity_counts(self.sql.findings)


@dataclass
class Overview:
    """Everything the Migrations index shows."""

    settings_summary: list[tuple[str, str]]
    version_table: str = ""
    lock_timeout: str = ""
    project_error: ProjectError | None = None
    history: list[Revision] = field(default_factory=list)  # the page shown, newest first
    history_window: PageWindow = field(default_factory=lambda: page_window(1, 1, 0))
    graph: GraphLayout | None = None  # the graph of the page shown
    state: DatabaseState | None = None
    state_error: str = ""
    applied: set[str] = field(default_factory=set)
    script_heads: tuple[str, ...] = ()
    pending: list[PendingReview] = field(default_factory=list)
    trials: list[TrialRun] = field(default_factory=list)
    apply_plan: ApplyPlan | None = None
    apply_problem: str = ""  # why admins cannot apply from the console ('' when they can)
    apply_switched_on: bool = False  # MIGRATIONS_APPLY_ENABLED, whether or not it can work

    @property
    def reviews_running(self) -> bool:
        return any(not item.sql.finished for item in self.pending)


def settings_summary() -> list[tuple[str, str]]:
    """Return the Alembic settings in effect as (setting, value) pairs, safe to show."""
    project = project_settings()
    return [
        ("ALEMBIC_CONFIG", str(project.config_path)),
        ("ALEMBIC_WORKDIR", str(project.workdir)),
        ("ALEMBIC_PYTHONPATH", ", ".join(project.pythonpath) or "(none)"),
        ("ALEMBIC_URL_ENV", project.url_env or "(unset: the variable env.py reads, detected)"),
        ("ALEMBIC_VERSION_SCHEMA / _TABLE", f"{project.version_schema}.{project.version_table}"),
        ("MIGRATION_LOCK_TIMEOUT", project.lock_timeout),
        ("ALEMBIC_TIMEOUT_S", str(project.timeout_s)),
        ("MIGRATIONS_APPLY_ENABLED", "true" if settings.MIGRATIONS_APPLY_ENABLED else "false"),
        ("MIGRATIONS_APPLY_DATABASE_URL", "set" if migrations_apply_url() else "(unset)"),
    ]


def applied_revisions(project: Project, heads: tuple[str, ...]) -> set[str]:
    """Return the ids of the revisions the database has (its heads and their ancestors)."""
    if not heads:
        return set()
    scripts = project.script.revision_map.iterate_revisions(heads, "base", inclusive=True)
    return {script.revision for script in scripts}


def pending_reviews(
    project: Project, state: DatabaseState, user: Operator = None
) -> list[PendingReview]:
    """Return the first pending revisions with their SQL rows (queueing generation if missing).

    Capped, so that opening the page for a database far behind (or not managed yet) does not
    queue hundreds of jobs; the rest are reviewed when their own page is opened.
    """
    shown = list(state.pending[:PENDING_REVIEW_LIMIT])
    return [
        PendingReview(revision, row)
        for revision, row in zip(shown, ensure_revision_sqls(project, shown, user), strict=True)
    ]


def migrations_overview(
    user: Operator = None, page: int = 1, *, page_size: int = HISTORY_PAGE_SIZE
) -> Overview:
    """Return the Migrations index: a page of the history and its graph, database state,
    pending review, trials."""
    project_config = project_settings()
    overview = Overview(
        settings_summary=settings_summary(),
        version_table=f"{project_config.version_schema}.{project_config.version_table}",
        lock_timeout=project_config.lock_timeout,
        apply_problem=apply_problem(),
        apply_switched_on=bool(settings.MIGRATIONS_APPLY_ENABLED),
    )
    try:
        project = load_project()
    except ProjectError as exc:
        overview.project_error = exc
        return overview
    history = revision_history(project)
    overview.history_window = page_window(page, page_size, len(history))
    start = overview.history_window.offset
    overview.history = history[start : start + page_size]
    overview.script_heads = tuple(project.script.get_heads())
    overview.trials = list(
        TrialRun.objects.filter(project=project.key).select_related("job", "created_by")[
            :RECENT_TRIALS
        ]
    )
    try:
        overview.state = database_state(project)
    except TargetError as exc:
        overview.state_error = exc.sentence
    current: tuple[str, ...] = ()
    pending_ids: tuple[str, ...] = ()
    if overview.state is not None:
        current = overview.state.heads
        pending_ids = tuple(revision.id for revision in overview.state.pending)
        if overview.state.status != UNKNOWN_VERSION:
            overview.applied = applied_revisions(project, current)
        overview.pending = pending_reviews(project, overview.state, user)
        overview.apply_plan = apply_plan(project, overview.state)
    # Lanes depend on every newer revision: lay out the whole graph, show the page's rows.
    graph = revision_graph(history, current, pending_ids)
    overview.graph = graph.window(start, page_size)
    return overview


def pending_overview(user: Operator = None) -> Overview:
    """Return only the pending part of the overview (polled while reviews are generated)."""
    overview = Overview(settings_summary=[])
    try:
        project = load_project()
        overview.state = database_state(project)
    except ProjectError as exc:
        overview.project_error = exc
        return overview
    except TargetError as exc:
        overview.state_error = exc.sentence
        return overview
    overview.pending = pending_reviews(project, overview.state, user)
    return overview


@dataclass
class DriftSummary:
    available: bool
    report: object | None = None
    note: str = ""


def drift_summary() -> DriftSummary:
    """Return the models-vs-database drift report, or a note when it cannot be made."""
    try:
        from dashboard.schema.drift import drift_report
    except ImportError:
        return DriftSummary(False, note="The drift check is not installed in this console yet.")
    try:
        return DriftSummary(True, drift_report())
    except TargetError as exc:
        return DriftSummary(False, note=f"The drift check could not run: {exc.sentence}")


# --------------------------------------------------------------------------------------------
# The revision page


def highlighted_python(source: str) -> str:
    """Return the source as HTML with Pygments CSS classes (no inline styles: CSP)."""
    return highlight(source, PythonLexer(), HtmlFormatter(cssclass="source", linenos="table"))


def highlighted_sql(sql: str) -> str:
    return highlight(sql, PostgresLexer(), HtmlFormatter(cssclass="source sql"))


@dataclass
class RevisionPage:
    revision: Revision
    source_html: str
    sql: RevisionSql
    status: str  # "applied", "pending", "unknown" (database unreadable)
    state_error: str = ""
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    review: StatementReview | None = None  # once the SQL is there
    last_trial: TrialRun | None = None  # the newest trial that ran (or runs) this revision

    @property
    def trial_steps(self) -> list[dict]:
        """Return the last trial's steps of this revision (upgrade, downgrade, upgrade)."""
        if self.last_trial is None:
            return []
        return [s for s in self.last_trial.steps if s.get("revision") == self.revision.id]

    @property
    def counts(self) -> dict[str, int]:
        return severity_counts(self.sql.findings)

    @property
    def upgrade_html(self) -> str:
        return highlighted_sql(self.sql.upgrade_sql) if self.sql.upgrade_sql else ""

    @property
    def downgrade_html(self) -> str:
        return highlighted_sql(self.sql.downgrade_sql) if self.sql.downgrade_sql else ""


def reviewed_sql(project: Project, sql: RevisionSql) -> StatementReview | None:
    """Return the upgrade SQL reviewed statement by statement, once it has been generated."""
    if sql.status != RevisionSql.Status.READY or not sql.upgrade_sql:
        return None
    return statement_review(sql.upgrade_sql, sql.findings, project.settings.version_table)


def last_trial(project: Project, revision_id: str) -> TrialRun | None:
    """Return the newest trial run of the project that included the revision."""
    return (
        TrialRun.objects.filter(project=project.key, revisions__contains=[revision_id])
        .select_related("job", "created_by")
        .first()
    )


def revision_page(revision_id: str, user: Operator = None) -> RevisionPage:
    """Return one revision's page (raises UnknownRevision, a 404, for an unknown id)."""
    project = load_project()
    revision = revision_named(revision_id, project)
    sql = ensure_revision_sql(project, revision, user)
    status, state_error = "unknown", ""
    try:
        state = database_state(project)
        if revision.id in {r.id for r in state.pending}:
            status = "pending"
        elif state.status != UNKNOWN_VERSION and revision.id in applied_revisions(
            project, state.heads
        ):
            status = "applied"
    except TargetError as exc:
        state_error = exc.sentence
    return RevisionPage(
        revision=revision,
        source_html=highlighted_python(revision_source(revision)),
        sql=sql,
        status=status,
        state_error=state_error,
        parents=list(revision.down_revisions),
        children=list(revision.children),
        review=reviewed_sql(project, sql),
        last_trial=last_trial(project, revision.id),
    )


def revision_sql_part(revision_id: str) -> RevisionPage:
    """Return the revision page's data for the polled SQL part (no highlighting of source)."""
    project = load_project()
    revision = revision_named(revision_id, project)
    sql = ensure_revision_sql(project, revision)
    if sql.job is not None and checked_run(sql.job).finished and not sql.finished:
        sql.refresh_from_db()  # its worker stopped: generated again (a new job), or failed
    return RevisionPage(
        revision=revision,
        source_html="",
        sql=sql,
        status="",
        parents=list(revision.down_revisions),
        children=list(revision.children),
        review=reviewed_sql(project, sql),
    )


def trial_context(trial: TrialRun) -> dict[str, object]:
    """Return what the trial page shows: the record, its steps split by direction, the job."""
    upgrades = [step for step in trial.steps if step.get("direction") == "upgrade"]
    return {
        "trial": trial,
        "run": trial.job,
        "upgrades": upgrades,
        "downgrades": [step for step in trial.steps if step.get("direction") == "downgrade"],
        "failed_step": next((step for step in trial.steps if not step.get("ok")), None),
    }
