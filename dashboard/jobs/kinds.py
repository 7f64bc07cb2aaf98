"""What each kind of job is: who may see it, what it does in words, whether it may run twice.

A job's page shows its progress lines, result and error, which say what the job touched: a
migration run on a copy of production may quote rows in its error. Every kind that is enqueued
is declared here (`enqueue` refuses an undeclared kind); a run of a kind that is not declared
(an old row, a renamed kind) is shown to administrators only.

When a job's worker stopped in the middle of it, the run is failed with "the worker stopped
while <doing>", and started again only when a second run cannot do harm (dashboard.jobs.abandoned).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobKind:
    role: str  # the role that may see a run's page: the role that may see what it is about
    doing: str  # completes "the worker stopped while …"
    retry_safe: bool
    # Why not retried: what the operator should check before starting it again.
    check_first: str = ""


JOB_KINDS: dict[str, JobKind] = {
    # The overview's example job: server version and size. Reads only.
    "health_check": JobKind("viewer", "checking the target database", retry_safe=True),
    # Query statistics. One snapshot in one transaction: a second adds a near-empty delta.
    "queries_snapshot": JobKind(
        "viewer", "taking a snapshot of pg_stat_statements", retry_safe=True
    ),
    # A revision's offline SQL, shown on its page to viewers; generated again it is the same.
    "revision_sql": JobKind(
        "viewer", "generating a revision's SQL in Alembic's offline mode", retry_safe=True
    ),
    # Branch names and states, as on the branches pages. Deleting a branch already gone
    # counts as deleted.
    "branch_delete": JobKind("viewer", "deleting a branch", retry_safe=True),
    "branch_create": JobKind(
        "viewer",
        "creating a branch",
        retry_safe=False,
        check_first="the branch may exist already: look at the Branches page before asking again",
    ),
    "branch_reset": JobKind(
        "viewer",
        "resetting a branch from its parent",
        retry_safe=False,
        check_first="the reset may have happened: look at the branch before resetting it again",
    ),
    # Migrations run on a branch: their output may quote rows.
    "migration_trial": JobKind(
        "engineer",
        "trying the pending migrations on a branch",
        retry_safe=False,
        check_first="its branch may be left behind: look at the Branches page, then start a "
        "new trial",
    ),
    # Migrations applied to the target itself.
    "migration_apply": JobKind(
        "admin",
        "applying migrations to the target database",
        retry_safe=False,
        check_first="some migrations may have run: look at the Migrations page before "
        "applying again",
    ),
}
JOB_KIND_ROLES = {name: kind.role for name, kind in JOB_KINDS.items()}
UNDECLARED_KIND = JobKind(
    "admin",
    "running this job",
    retry_safe=False,
    check_first="it is not known to be safe to run twice: start it again yourself if needed",
)
UNDECLARED_KIND_ROLE = UNDECLARED_KIND.role


class UndeclaredJobKind(ValueError):
    """A job kind without a role in JOB_KINDS."""


def job_kind(kind: str) -> JobKind:
    """Return what is declared about a kind of job (undeclared: admins only, never retried)."""
    return JOB_KINDS.get(kind, UNDECLARED_KIND)


def job_kind_role(kind: str) -> str:
    """Return the role needed to see a run of `kind` (admin for a kind nobody declared)."""
    return job_kind(kind).role


def checked_job_kind(kind: str) -> str:
    """Return `kind`, or raise UndeclaredJobKind when no role is declared for it."""
    if kind not in JOB_KINDS:
        raise UndeclaredJobKind(
            f"The job kind {kind!r} declares no role: add it to dashboard/jobs/kinds.py."
        )
    return kind
