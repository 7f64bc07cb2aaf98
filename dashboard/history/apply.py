"""Applying pending migrations to the target database: off unless MIGRATIONS_APPLY_ENABLED.

Where it is off (the default), the page shows the exact command to run instead. Where it is on,
only admins may, after typing the target revision; it runs as a background job, revision by
revision through the project's env.py with a lock timeout, and is audited. It runs as the owner
of the application's tables (MIGRATIONS_APPLY_DATABASE_URL), never as the console's reader: a
maintenance path that writes, with a connection of its own (the subprocess's). Enabled without
that URL, applying cannot work: the page says so up front and shows the command, as when off.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from dashboard.history.commands import alembic_step
from dashboard.history.project import Project, load_project
from dashboard.history.revisions import (
    UNKNOWN_VERSION,
    DatabaseState,
    Revision,
    database_state,
    revision_from_script,
)
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue
from dashboard.target import migrations_apply_url, target_location

Operator = AbstractBaseUser | AnonymousUser | None


class ApplyRefused(Exception):
    """Applying cannot start; the sentence says why."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def apply_problem() -> str:
    """Return why admins cannot apply migrations from the console ('' when they can)."""
    if not getattr(settings, "MIGRATIONS_APPLY_ENABLED", False):
        return "Applying from the console is off (MIGRATIONS_APPLY_ENABLED=false)."
    if not migrations_apply_url():
        return (
            "Applying from the console is enabled (MIGRATIONS_APPLY_ENABLED=true), but "
            "MIGRATIONS_APPLY_DATABASE_URL is not set: applying runs as the owner of the "
            "application's tables, and the console's reader cannot change the schema. Set it "
            "to the owner's URL."
        )
    return ""


def apply_enabled() -> bool:
    return not apply_problem()


@dataclass(frozen=True)
class ApplyPlan:
    target: str  # the revision to upgrade to
    revisions: list[Revision]  # what would run, in order
    command: str  # the shell command an operator would run instead


def apply_command(project: Project, destination: str) -> str:
    """Return the command that applies the migrations by hand (no secrets in it)."""
    placeholder = f"postgresql://USER:PASSWORD@{target_location()}"
    parts = [
        f"cd {shlex.quote(str(project.settings.workdir))} &&",
        f"{project.settings.url_env}={shlex.quote(placeholder)}",
        f"MIGRATION_LOCK_TIMEOUT={shlex.quote(project.settings.lock_timeout)}",
        "alembic",
        "-c",
        shlex.quote(str(project.settings.config_path)),
        "upgrade",
        shlex.quote(destination),
    ]
    return " ".join(parts)


def revisions_up_to(project: Project, destination: str, heads: tuple[str, ...]) -> list[Revision]:
    """Return the revisions `upgrade destination` would run from `heads`, in run order."""
    scripts = project.script.revision_map.iterate_revisions(destination, heads, implicit_base=True)
    # The revision map holds Script objects, typed as their base class.
    return [revision_from_script(script) for script in reversed(list(scripts))]  # type: ignore[arg-type]


def apply_plan(project: Project, state: DatabaseState) -> ApplyPlan | None:
    """Return what applying would do, or None when nothing is pending."""
    if state.status == UNKNOWN_VERSION or not state.pending:
        return None
    destination = state.script_heads[0] if len(state.script_heads) == 1 else "heads"
    return ApplyPlan(destination, state.pending, apply_command(project, destination))


def start_apply(user: Operator, typed_revision: str) -> JobRun:
    """Check the typed revision against the plan and queue the apply job."""
    from dashboard.history.tasks import apply_migrations

    problem = apply_problem()
    if problem:
        raise ApplyRefused(problem)
    project = load_project()
    plan = apply_plan(project, database_state(project))
    if plan is None:
        raise ApplyRefused("Nothing is pending: the database is up to date.")
    if plan.target == "heads":
        raise ApplyRefused(
            "The scripts have several heads: merge them (alembic merge heads) before applying."
        )
    if typed_revision.strip() != plan.target:
        raise ApplyRefused(
            f"Type the target revision exactly ({plan.target}) to confirm; "
            f"{typed_revision.strip()!r} does not match."
        )
    return enqueue(apply_migrations, kind="migration_apply", user=user, destination=plan.target)


def run_apply(run: JobRun, destination: str) -> dict:
    """Apply the pending revisions up to `destination` on the target, one at a time."""
    problem = apply_problem()
    url = migrations_apply_url()
    if problem or not url:
        raise ApplyRefused(problem)
    project = load_project()
    state = database_state(project)
    if state.status == UNKNOWN_VERSION:
        raise ApplyRefused(state.sentence)
    revisions = revisions_up_to(project, destination, state.heads)
    run.note(f"{len(revisions)} revision(s) to apply to {target_location()}")
    done: list[str] = []
    for number, revision in enumerate(revisions, start=1):
        run.note(f"Upgrade {revision.id} ({number}/{len(revisions)})")
        result = alembic_step(
            project.settings,
            str(project.script_location),
            "upgrade",
            revision.id,
            url=url,
        )
        run.note(result.log or "(no output)")
        if not result.ok:
            why = "timed out" if result.timed_out else result.error_line
            raise ApplyRefused(
                f"Upgrade of {revision.id} failed: {why}. Applied before it: "
                f"{', '.join(done) or 'nothing'}."
            )
        done.append(revision.id)
        run.note(f"Upgrade {revision.id}: ok in {result.seconds:.2f} s")
    return {"applied": ", ".join(done) or "nothing", "destination": destination}
