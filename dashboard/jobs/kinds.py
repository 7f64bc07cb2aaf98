"""Which role may see a job of each kind: the role that may see what the job is about.

A job's page shows its progress lines, result and error, which say what the job touched: a
migration run on a copy of production may quote rows in its error. Every kind that is enqueued
is declared here (`enqueue` refuses an undeclared kind); a run of a kind that is not declared
(an old row, a renamed kind) is shown to administrators only.
"""

from __future__ import annotations

JOB_KIND_ROLES = {
    "health_check": "viewer",  # the overview's example job: server version and size
    "queries_snapshot": "viewer",  # query statistics
    "revision_sql": "viewer",  # a revision's offline SQL, shown on its page to viewers
    "branch_create": "viewer",  # branch names and states, as on the branches pages
    "branch_delete": "viewer",
    "branch_reset": "viewer",
    "migration_trial": "engineer",  # migrations run on a branch: their output may quote rows
    "migration_apply": "admin",  # migrations applied to the target itself
}
UNDECLARED_KIND_ROLE = "admin"


class UndeclaredJobKind(ValueError):
    """A job kind without a role in JOB_KIND_ROLES."""


def job_kind_role(kind: str) -> str:
    """Return the role needed to see a run of `kind` (admin for a kind nobody declared)."""
    return JOB_KIND_ROLES.get(kind, UNDECLARED_KIND_ROLE)


def checked_job_kind(kind: str) -> str:
    """Return `kind`, or raise UndeclaredJobKind when no role is declared for it."""
    if kind not in JOB_KIND_ROLES:
        raise UndeclaredJobKind(
            f"The job kind {kind!r} declares no role: add it to dashboard/jobs/kinds.py."
        )
    return kind
