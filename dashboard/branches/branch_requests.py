"""Branch requests: the create form's choices, create/delete/reset jobs and their progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from dashboard.audit.services import record
from dashboard.branches.branch_pages import action_refusal
from dashboard.branches.models import BranchRequest
from dashboard.branches.provider import READY, BranchError, BranchInfo
from dashboard.branches.provider_access import (
    ProviderSummary,
    _existing_branch,
    _local_target_database,
    _logged,
    _sorted,
    check_branch_id,
    opened_provider,
    provider_summary,
)
from dashboard.jobs.abandoned import checked_run
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue

JOB_KINDS = {"branch_create": "create", "branch_delete": "delete", "branch_reset": "reset"}
# Polling a job's progress stops this long after the ready deadline: the job is stuck or lost.
PROGRESS_GRACE_SECONDS = 60


# --------------------------------------------------------------------------------------------
# Creating


@dataclass(frozen=True)
class CreateChoices:
    """What the create form offers: parents, taken names, provider abilities."""

    provider: ProviderSummary
    parents: list[tuple[str, str]] = field(default_factory=list)
    default_parent: str = ""
    taken_names: frozenset[str] = frozenset()
    target_database: str = ""  # local: branch database names are built from it
    error: str = ""


def create_choices() -> CreateChoices:
    """Return the create form's choices (parents from the provider's branch list)."""
    summary = provider_summary()
    try:
        with opened_provider() as provider:
            branches = _sorted(provider.list_branches())
            target = _local_target_database(provider)
    except BranchError as exc:
        return CreateChoices(provider=summary, error=_logged(exc, "listing parent branches"))
    parents: list[tuple[str, str]] = []
    if target:
        parents.append((target, f"{target} (the target database)"))
    for branch in branches:
        if target and branch.state != READY:
            continue  # a local clone is copied with pg_dump: it must be complete
        label = f"{branch.name} (default)" if branch.is_default else branch.name
        parents.append((branch.id, label))
    default = target or next((b.id for b in branches if b.is_default), "")
    return CreateChoices(
        provider=summary,
        parents=parents,
        default_parent=default,
        taken_names=frozenset(b.name for b in branches),
        target_database=target or "",
    )


@dataclass(frozen=True)
class NewBranch:
    """A validated create request."""

    name: str
    parent_id: str
    point_in_time: datetime | None = None
    schema_only: bool = False
    expires_at: datetime | None = None
    purpose: str = ""  # e.g. "time machine": made for a comparison (see dashboard/users)

    def options(self) -> dict[str, object]:
        options: dict[str, object] = {
            "schema_only": self.schema_only,
            "point_in_time": self.point_in_time.isoformat() if self.point_in_time else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        if self.purpose:
            options["purpose"] = self.purpose
        return options


def _requested(
    request: HttpRequest, action: str, provider: str, name: str, branch_id: str, parent_id: str
) -> BranchRequest:
    user = request.user if request.user.is_authenticated else None
    return BranchRequest.objects.create(
        action=action,
        provider=provider,
        branch_name=name,
        branch_id=branch_id,
        parent_id=parent_id,
        requested_by=user,
        requested_by_name=user.get_username() if user else "",
    )


def start_create(request: HttpRequest, new: NewBranch) -> JobRun:
    """Record and enqueue the create of a branch; return its job run."""
    from dashboard.branches.tasks import create_branch

    provider = provider_summary().name
    with transaction.atomic():
        asked = _requested(
            request, BranchRequest.Action.CREATE, provider, new.name, "", new.parent_id
        )
        asked.options = new.options()
        run = enqueue(
            create_branch, kind="branch_create", user=request.user, branch_request_id=asked.pk
        )
        asked.job_run = run
        asked.save(update_fields=["options", "job_run"])
        record(
            request,
            "branch.create",
            detail={
                "branch_name": new.name,
                "parent_id": new.parent_id,
                "provider": provider,
                "job_run": run.pk,
                **new.options(),
            },
        )
    return run


# --------------------------------------------------------------------------------------------
# Deleting and resetting


@dataclass
class ActionTarget:
    """A branch about to be deleted or reset, or why that cannot be done."""

    provider: ProviderSummary
    action: str
    branch_id: str
    branch: BranchInfo | None = None
    error: str = ""
    refusal: str = ""
    children: list[str] = field(default_factory=list)  # reset: children that need preserving


def action_target(branch_id: str, action: str) -> ActionTarget:
    """Return the branch a delete/reset is about (Http404 when unknown) and any refusal."""
    check_branch_id(branch_id)
    target = ActionTarget(provider=provider_summary(), action=action, branch_id=branch_id)
    try:
        with opened_provider() as provider:
            target.branch = _existing_branch(provider, branch_id)
            if action == "reset" and target.provider.supports_reset:
                target.children = provider.children_blocking_reset(branch_id)
    except BranchError as exc:
        target.error = _logged(exc, f"reading branch {branch_id} to {action} it")
        return target
    if action == "reset" and not target.provider.supports_reset:
        target.refusal = f"{target.provider.label} branches cannot be reset."
    else:
        target.refusal = action_refusal(target.branch, action)
    return target


def start_action(
    request: HttpRequest, target: ActionTarget, options: dict[str, str] | None = None
) -> JobRun:
    """Record and enqueue a delete or reset of `target.branch`; return its job run.

    options: what the confirmation asked for (a reset's preserve_under_name), kept with the
    request for the job.
    """
    from dashboard.branches import tasks

    branch = target.branch
    if branch is None or target.refusal:
        raise BranchError(target.refusal or "There is no branch to change.")
    task = tasks.delete_branch if target.action == "delete" else tasks.reset_branch
    action = BranchRequest.Action(target.action)
    with transaction.atomic():
        asked = _requested(
            request, action, target.provider.name, branch.name, branch.id, branch.parent_id or ""
        )
        if options:
            asked.options = dict(options)
            asked.save(update_fields=["options"])
        run = enqueue(task, kind=f"branch_{action}", user=request.user, branch_request_id=asked.pk)
        asked.job_run = run
        asked.save(update_fields=["job_run"])
        record(
            request,
            f"branch.{action}",
            detail={
                "branch_id": branch.id,
                "branch_name": branch.name,
                "provider": target.provider.name,
                "job_run": run.pk,
                **(options or {}),
            },
        )
    return run


# --------------------------------------------------------------------------------------------
# Job progress


@dataclass
class BranchJob:
    """A branch job's progress as its page shows it."""

    run: JobRun
    action: str
    branch_request: BranchRequest | None
    deadline_seconds: int

    @property
    def branch_name(self) -> str:
        return self.branch_request.branch_name if self.branch_request else ""

    @property
    def branch_id(self) -> str:
        result_id = self.run.result.get("branch_id") if self.run.result else None
        if isinstance(result_id, str) and result_id:
            return result_id
        return self.branch_request.branch_id if self.branch_request else ""

    @property
    def stale(self) -> bool:
        """True when the job is unfinished long after its deadline: stop polling."""
        if self.run.finished:
            return False
        age = (timezone.now() - self.run.created_at).total_seconds()
        return age > self.deadline_seconds + PROGRESS_GRACE_SECONDS

    @property
    def polling(self) -> bool:
        return not self.run.finished and not self.stale


def branch_job(run_id: int) -> BranchJob:
    """Return a branch job's progress (Http404 for runs that are not branch jobs)."""
    run = JobRun.objects.filter(pk=run_id, kind__in=JOB_KINDS).first()
    if run is None:
        raise Http404(f"There is no branch job #{run_id}.")
    run = checked_run(run)  # a run whose worker stopped ends here, and the polling with it
    return BranchJob(
        run=run,
        action=JOB_KINDS[run.kind],
        branch_request=BranchRequest.objects.filter(job_run=run).first(),
        deadline_seconds=int(getattr(settings, "BRANCH_READY_DEADLINE_SECONDS", 300)),
    )
