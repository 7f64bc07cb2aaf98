"""Trial runs: the pending migrations run on a throw-away branch, revision by revision.

A trial makes a branch of the target through the branch provider, reads the branch's version
table, runs `upgrade` of each pending revision on its own (subprocess, the project's env.py, the
branch's URL, a lock timeout and a timeout), optionally undoes them and runs them again (the
round trip), and records the output and time of every step and the schema difference the
migrations made. The branch is deleted afterwards unless the operator asked to keep it.
Production is never touched: the subprocess only ever gets the branch's URL. The branch is made
and dropped by the provider (local clones as the console's maintenance role,
TARGET_MAINTENANCE_DATABASE_URL); the target's version table is read as the reader.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from dashboard.branches.local_provider import (
    client_bindir,
    schema_only_dump,
    unified_schema_diff,
)
from dashboard.branches.provider import BranchError, BranchProvider, get_provider
from dashboard.console_work import APPLICATION_NAME
from dashboard.history.commands import StepResult, alembic_step, redacted
from dashboard.history.models import TrialRun
from dashboard.history.project import Project, load_project
from dashboard.history.revisions import (
    UNKNOWN_VERSION,
    Revision,
    database_versions,
    state_from_versions,
)
from dashboard.history.trial_verdict import OUTCOME_LABELS, compare_schemas, trial_outcome
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue
from dashboard.target import run_read

logger = logging.getLogger(__name__)

BRANCH_VERSION_SQL = """
SELECT to_regclass(format('%%I.%%I', %(schema)s::text, %(table)s::text)) IS NOT NULL
"""


class TrialFailed(Exception):
    """The trial could not go on; the sentence is shown on the trial's page."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def start_trial(
    user: AbstractBaseUser | AnonymousUser | None,
    *,
    round_trip: bool = False,
    keep_branch: bool = False,
    schema_only: bool = False,
) -> TrialRun:
    """Record a trial run and queue it; return the record."""
    from dashboard.history.tasks import trial_run

    project = load_project()
    with transaction.atomic():
        trial = TrialRun.objects.create(
            project=project.key,
            created_by=user if isinstance(user, User) and user.is_authenticated else None,
            round_trip=round_trip,
            keep_branch=keep_branch,
            schema_only=schema_only,
            provider=str(getattr(settings, "BRANCH_PROVIDER", "local")),
        )
        trial.job = enqueue(trial_run, kind="migration_trial", user=user, trial_id=trial.pk)
        trial.save(update_fields=["job"])
    return trial


TRANSACTION_TIMEOUT_SQL = "SELECT set_config('statement_timeout', '10s', true)"


def branch_versions(url: str, schema: str, table_name: str) -> tuple[str, ...] | None:
    """Return the branch's version table rows, or None when it has none."""
    # One transaction with a transaction-local timeout: a session SET would stay on a server
    # connection that a transaction-mode pooler hands to the next client.
    with psycopg.connect(url, connect_timeout=10, application_name=APPLICATION_NAME) as conn:
        conn.execute(TRANSACTION_TIMEOUT_SQL)
        present = conn.execute(BRANCH_VERSION_SQL, {"schema": schema, "table": table_name})
        if not present.fetchone()[0]:  # type: ignore[index]  # EXISTS answers one row
            return None
        rows = conn.execute(
            sql.SQL("SELECT version_num FROM {}.{} ORDER BY version_num").format(
                sql.Identifier(schema), sql.Identifier(table_name)
            )
        ).fetchall()
    return tuple(str(row[0]) for row in rows)


def stamp_branch(url: str, schema: str, table_name: str, versions: tuple[str, ...]) -> None:
    """Write `versions` into the branch's (empty) version table."""
    with psycopg.connect(
        url, connect_timeout=10, application_name=APPLICATION_NAME
    ) as conn:  # one transaction, committed at exit
        conn.execute(TRANSACTION_TIMEOUT_SQL)
        for version in versions:
            conn.execute(
                sql.SQL("INSERT INTO {}.{} (version_num) VALUES (%s)").format(
                    sql.Identifier(schema), sql.Identifier(table_name)
                ),
                (version,),
            )


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class _Trial:
    """The state of one trial while it runs."""

    def __init__(self, run: JobRun, trial: TrialRun, project: Project) -> None:
        self.run = run
        self.trial = trial
        self.project = project
        self.url = ""
        self.bindir: Path | None = None

    def note(self, message: str) -> None:
        self.run.note(message)

    def save(self, *fields: str) -> None:
        self.trial.save(update_fields=list(fields))

    def step(self, revision: Revision, direction: str, position: str) -> StepResult:
        self.note(f"{direction.capitalize()} {revision.id} ({position})")
        result = alembic_step(
            self.project.settings,
            str(self.project.script_location),
            direction,
            revision.id,
            url=self.url,
        )
        self.trial.steps = [
            *self.trial.steps,
            {
                "revision": revision.id,
                "message": revision.message,
                "direction": direction,
                "ok": result.ok,
                "seconds": result.seconds,
                "output": result.log,
                "error": "" if result.ok else result.error_line,
                "timed_out": result.timed_out,
            },
        ]
        self.save("steps")
        outcome = "ok" if result.ok else "FAILED"
        self.note(f"{direction.capitalize()} {revision.id}: {outcome} in {result.seconds:.2f} s")
        if not result.ok:
            self.trial.failed_revision = revision.id
            why = "timed out" if result.timed_out else result.error_line
            self.trial.error = f"{direction.capitalize()} of {revision.id} failed: {why}"
            self.save("failed_revision", "error")
        return result

    def run_all(
        self,
        revisions: list[Revision],
        direction: str,
        after_each: Callable[[Revision], None] | None = None,
    ) -> bool:
        for number, revision in enumerate(revisions, start=1):
            if not self.step(revision, direction, f"{number}/{len(revisions)}").ok:
                return False
            if after_each is not None:
                after_each(revision)
        return True

    def mark_last_step(self, **fields: object) -> None:
        self.trial.steps = [*self.trial.steps[:-1], {**self.trial.steps[-1], **fields}]
        self.save("steps")

    def schema(self) -> str | None:
        """Return the branch's normalised schema, or None when pg_dump is not available."""
        try:
            if self.bindir is None:
                with psycopg.connect(
                    _libpq(self.url), connect_timeout=10, application_name=APPLICATION_NAME
                ) as conn:
                    major = conn.info.server_version // 10000
                self.bindir = client_bindir(major)
            exclude = (
                f"{self.project.settings.version_schema}.{self.project.settings.version_table}"
            )
            return schema_only_dump(self.url, self.bindir, exclude_tables=(exclude,))
        except (BranchError, psycopg.Error) as exc:
            message = getattr(exc, "sentence", None) or f"{type(exc).__name__}"
            self.trial.notes = [*self.trial.notes, f"Schema difference skipped: {message}"]
            self.save("notes")
            return None


def run_trial(run: JobRun, trial_id: int, provider: BranchProvider | None = None) -> dict:
    """Run trial `trial_id` (a job body) and return its summary."""
    trial = TrialRun.objects.get(pk=trial_id)
    project = load_project()
    state = _Trial(run, trial, project)
    provider = provider or get_provider()
    try:
        name = f"trial-{trial.pk}-{secrets.token_hex(2)}"
        trial.branch_name = name
        state.save("branch_name")
        expires = timezone.now() + timedelta(days=1) if trial.keep_branch else None
        state.note(f"Creating branch {name} with the {provider.name} provider")
        branch = provider.create_branch(
            name, schema_only=trial.schema_only, expires_at=expires, progress=state.note
        )
        trial.branch_id = branch.id
        state.save("branch_id")
        deadline = float(getattr(settings, "TRIAL_BRANCH_READY_TIMEOUT_S", 600))
        provider.wait_until_ready(branch.id, deadline, progress=state.note)
        state.url = provider.migration_url(branch.id)
        _migrate(state)
    except (BranchError, TrialFailed) as exc:
        trial.error = trial.error or exc.sentence
    except Exception as exc:
        logger.exception("trial run #%s stopped", trial.pk)
        trial.error = trial.error or redacted(
            f"The trial stopped: {type(exc).__name__}: {exc}", state.url
        )
    finally:
        if trial.branch_id and not trial.keep_branch:
            try:
                state.note(f"Deleting branch {trial.branch_name}")
                provider.delete_branch(trial.branch_id)
                trial.branch_deleted = True
            except BranchError as exc:
                trial.notes = [*trial.notes, f"The branch was not deleted: {exc.sentence}"]
        trial.succeeded = not trial.error
        trial.outcome = trial_outcome(
            error=trial.error,
            revisions=trial.revisions,
            round_trip=trial.round_trip,
            steps=trial.steps,
            round_trip_differences=trial.round_trip_comparison.get("differences", []),
            round_trip_reordered=trial.round_trip_comparison.get("reordered", []),
        )
        trial.finished_at = timezone.now()
        trial.save()
    summary = {
        "outcome": OUTCOME_LABELS[trial.outcome],
        "succeeded": trial.succeeded,
        "revisions": len(trial.revisions),
        "failed_revision": trial.failed_revision or None,
        "seconds": trial.total_seconds,
    }
    if not trial.succeeded:
        raise TrialFailed(trial.error or "The trial run failed.")
    return summary


def _migrate(state: _Trial) -> None:
    """Run the pending revisions on the branch (and the round trip); fill the trial's fields."""
    trial, project = state.trial, state.project
    schema, table_name = project.settings.version_schema, project.settings.version_table
    versions = branch_versions(_libpq(state.url), schema, table_name)
    if trial.schema_only and versions == ():
        # A schema-only branch has the version table but not its row: take the target's.
        target_versions = run_read(lambda conn: database_versions(conn, schema, table_name))
        if target_versions:
            stamp_branch(_libpq(state.url), schema, table_name, target_versions)
            state.note(f"Schema-only branch: version set to {', '.join(target_versions)}")
            versions = target_versions
    database = state_from_versions(project, versions)
    if database.status == UNKNOWN_VERSION:
        raise TrialFailed(database.sentence)
    trial.starting_heads = list(database.heads)
    trial.revisions = [revision.id for revision in database.pending]
    state.save("starting_heads", "revisions")
    if not database.pending:
        state.note("Nothing is pending: the branch is at the scripts' head(s).")
        return
    state.note(f"{len(database.pending)} revision(s) to run: {', '.join(trial.revisions)}")
    before = state.schema()
    try:
        if trial.round_trip:
            _round_trip(state, database.pending, before)
        else:
            state.run_all(database.pending, "upgrade")
    finally:
        _record_diff(state, before, "schema_diff")


def _round_trip(state: _Trial, pending: list[Revision], before: str | None) -> None:
    """Upgrade, downgrade (checking each revision restores its schema), upgrade again."""
    trial = state.trial
    # The schema each revision started from: what its downgrade must give back.
    started_from: dict[str, str | None] = {}
    current: dict[str, str | None] = {"schema": before}
    # What earlier (newer) downgrades already left behind, so it is blamed on them only once.
    residue: set[str] = set()

    def remember(revision: Revision) -> None:
        started_from[revision.id] = current["schema"]
        current["schema"] = state.schema()

    def compare(revision: Revision) -> None:
        now = state.schema()
        expected = started_from.get(revision.id)
        if expected is None or now is None:
            return
        diff = unified_schema_diff(
            expected, now, f"before upgrade {revision.id}", f"after downgrade {revision.id}"
        )
        changed = _changed_lines(diff)
        if changed - residue:
            comparison = compare_schemas(expected, now)
            if comparison.column_order_only:
                state.mark_last_step(column_order=comparison.reordered)
                state.note(
                    f"The downgrade of {revision.id} gives back the schema it started from, "
                    "but for the order of the columns"
                )
            else:
                state.mark_last_step(
                    schema_mismatch=redacted(diff), differences=comparison.differences
                )
                state.note(
                    f"The downgrade of {revision.id} does not give back the schema it started from"
                )
        residue.clear()
        residue.update(changed)

    if not state.run_all(pending, "upgrade", after_each=remember):
        return
    state.note("Round trip: undoing the revisions, newest first")
    if not state.run_all(list(reversed(pending)), "downgrade", after_each=compare):
        return
    undone = state.schema()
    if before is not None and undone is not None:
        trial.round_trip_diff = unified_schema_diff(
            before, undone, "before the migrations", "after upgrade and downgrade"
        )
        comparison = compare_schemas(before, undone)
        trial.round_trip_comparison = {
            "differences": comparison.differences,
            "reordered": comparison.reordered,
        }
        state.save("round_trip_diff", "round_trip_comparison")
    state.note("Round trip: running the revisions again")
    state.run_all(pending, "upgrade")


def _changed_lines(diff: str) -> set[str]:
    """Return the added and removed lines of a unified diff (without its headers)."""
    return {
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    }


def _record_diff(state: _Trial, before: str | None, field: str) -> None:
    after = state.schema()
    if before is None or after is None:
        return
    diff = unified_schema_diff(before, after, "before the migrations", "after the migrations")
    setattr(state.trial, field, redacted(diff))
    state.save(field)
