"""What a job's page tells people: what the job does to what, the object it is about, and its
result as formatted values (sizes humanised, yes/no, lists joined; never a Python repr)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from dashboard.home.templatetags.humanize_bytes import human_bytes
from dashboard.jobs.models import JobRun
from dashboard.queries.templatetags.queries_format import ms, thousands

# How a result's keys read on the page (a key not listed is written out from its name).
LABELS = {
    "location": "Target",
    "schema": "Schema",
    "server_version": "PostgreSQL",
    "database_bytes": "Database size",
    "table_count": "Tables",
    "connections": "Connections",
    "has_alembic": "Managed by Alembic",
    "alembic_versions": "Alembic revision",
    "elapsed_ms": "Took",
    "snapshot": "Snapshot",
    "branch_id": "Branch id",
    "branch_name": "Branch",
    "failed_revision": "Failed revision",
    "seconds": "Took",
}


@dataclass(frozen=True)
class JobPage:
    """The words around a job's progress: its title, what it is about and where that lives."""

    title: str
    about: str = ""  # the object, e.g. the target's location or a branch's name
    object_url: str = ""
    object_label: str = ""
    crumbs: tuple[tuple[str, str], ...] = ()  # (url, label) from the section down


def label(key: str) -> str:
    """Return how a result key reads on the page."""
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def formatted(key: str, value: Any) -> str:
    """Return a result value for people: sizes, durations, yes/no, lists, counts."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(formatted(key, item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {formatted(k, v)}" for k, v in value.items()) or "—"
    if key.endswith("_bytes"):
        return human_bytes(value)
    if key.endswith("_ms"):
        return ms(value)
    if key == "seconds" or key.endswith("_seconds"):
        return f"{float(value):.2f} s"
    if isinstance(value, int | float):
        return thousands(value)
    return str(value)


def result_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the result as (label, value) pairs, formatted, known keys in LABELS' order (a
    JSON column gives its keys back sorted, not in the order the job wrote them)."""
    order = list(LABELS)
    keys = sorted(result, key=lambda key: order.index(key) if key in order else len(order))
    return [(label(key), formatted(key, result[key])) for key in keys]


def _health_check(run: JobRun) -> JobPage:
    where = str(run.result.get("location") or "")
    return JobPage(
        "Health check of the target database",
        about=f"{where}, schema {run.result.get('schema', '?')}" if where else "",
        object_url=reverse("home"),
        object_label="Back to the Overview",
        crumbs=((reverse("home"), "Overview"),),
    )


def _snapshot(run: JobRun) -> JobPage:
    url = reverse("queries:snapshots")
    return JobPage(
        "Snapshot of pg_stat_statements",
        about="the growth of every statement since the previous snapshot",
        object_url=url,
        object_label="Open Snapshots",
        crumbs=((reverse("queries:statements"), "Queries"), (url, "Snapshots")),
    )


def _revision_sql(run: JobRun) -> JobPage:
    from dashboard.history.models import RevisionSql

    row = RevisionSql.objects.filter(pk=run.params.get("revision_sql_id")).first()
    index = reverse("history:index")
    if row is None:
        return JobPage("SQL and review of a revision", crumbs=((index, "Migrations"),))
    url = reverse("history:revision", args=[row.revision])
    return JobPage(
        f"SQL and review of revision {row.revision}",
        about="its upgrade and downgrade SQL from Alembic's offline mode, then the review",
        object_url=url,
        object_label=f"Open revision {row.revision}",
        crumbs=((index, "Migrations"), (url, f"Revision {row.revision}")),
    )


def _trial(run: JobRun) -> JobPage:
    trial_id = run.params.get("trial_id")
    index = reverse("history:index")
    trials = reverse("history:trials")
    if not isinstance(trial_id, int):
        return JobPage("Trial run of the pending migrations", crumbs=((index, "Migrations"),))
    url = reverse("history:trial", args=[trial_id])
    return JobPage(
        f"Trial run #{trial_id} of the pending migrations",
        about="on a throw-away branch",
        object_url=url,
        object_label=f"Open trial run #{trial_id}",
        crumbs=((index, "Migrations"), (trials, "Trial runs"), (url, f"Trial run #{trial_id}")),
    )


def _apply(run: JobRun) -> JobPage:
    destination = str(run.params.get("destination") or "")
    index = reverse("history:index")
    return JobPage(
        f"Apply the migrations up to {destination} to the target database"
        if destination
        else "Apply the pending migrations to the target database",
        object_url=index,
        object_label="Open Migrations",
        crumbs=((index, "Migrations"),),
    )


BRANCH_VERBS = {"branch_create": "Create", "branch_delete": "Delete", "branch_reset": "Reset"}


def _branch(run: JobRun) -> JobPage:
    from dashboard.branches.models import BranchRequest

    asked = BranchRequest.objects.filter(job_run=run).first()
    name = asked.branch_name if asked else str(run.result.get("branch_name") or "")
    verb = BRANCH_VERBS[run.kind]
    branches = reverse("branches:list")
    crumbs: tuple[tuple[str, str], ...] = ((branches, "Branches"),)
    branch_id = (asked.branch_id if asked else "") or str(run.result.get("branch_id") or "")
    if branch_id and run.kind != "branch_delete":
        url = reverse("branches:detail", args=[branch_id])
        crumbs += ((url, name or branch_id),)
        return JobPage(
            f"{verb} branch {name}", object_url=url, object_label="Open the branch", crumbs=crumbs
        )
    return JobPage(
        f"{verb} branch {name}" if name else f"{verb} a branch",
        object_url=branches,
        object_label="Open Branches",
        crumbs=crumbs,
    )


PAGES = {
    "health_check": _health_check,
    "queries_snapshot": _snapshot,
    "revision_sql": _revision_sql,
    "migration_trial": _trial,
    "migration_apply": _apply,
    **dict.fromkeys(BRANCH_VERBS, _branch),
}


def job_page(run: JobRun) -> JobPage:
    """Return what the page of `run` says around its progress."""
    describe = PAGES.get(run.kind)
    return describe(run) if describe else JobPage(f"Job {run.kind.replace('_', ' ')}")
