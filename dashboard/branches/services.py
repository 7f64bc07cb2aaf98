"""The branches pages' work: reading branches, starting jobs, revealing connection strings.

Everything goes through the BranchProvider interface (Neon or local). Provider failures come
back as sentences in the returned data, so a page still renders and says what to do; the
technical detail goes to the log (never a key or a password). Connection strings are masked
unless an engineer asks to reveal them, and every reveal, create, delete and reset is audited.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from dashboard.audit.services import record
from dashboard.branches.models import BranchRequest
from dashboard.branches.provider import (
    CREATING,
    READY,
    BranchError,
    BranchInfo,
    BranchProvider,
    get_provider,
)
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue

logger = logging.getLogger(__name__)

# What a branch id looks like in a URL (Neon: br-cool-sky-123; local: <db>__br__<name>).
BRANCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
JOB_KINDS = {"branch_create": "create", "branch_delete": "delete", "branch_reset": "reset"}
PASSWORD_MASK = "********"  # noqa: S105 - what replaces a password, not one
# Polling a job's progress stops this long after the ready deadline: the job is stuck or lost.
PROGRESS_GRACE_SECONDS = 60
RECENT_REQUESTS = 10


# --------------------------------------------------------------------------------------------
# The provider in use


@dataclass(frozen=True)
class ProviderSummary:
    """Which provider the console uses and where its branches live (never the API key)."""

    name: str
    label: str
    location: str
    supports_reset: bool
    supports_schema_diff: bool
    supports_point_in_time: bool

    @property
    def is_neon(self) -> bool:
        return self.name == "neon"


def provider_summary() -> ProviderSummary:
    """Return what the settings say about the provider, without contacting it."""
    choice = getattr(settings, "BRANCH_PROVIDER", "local")
    if choice == "neon":
        from dashboard.branches.neon_provider import NeonProvider

        project = settings.NEON_PROJECT_ID or "(NEON_PROJECT_ID is not set)"
        return ProviderSummary(
            name="neon",
            label="Neon",
            location=f"project {project}",
            supports_reset=NeonProvider.supports_reset,
            supports_schema_diff=NeonProvider.supports_schema_diff,
            supports_point_in_time=NeonProvider.supports_point_in_time,
        )
    from dashboard.target import target_location

    try:
        from dashboard.branches.local_provider import LocalProvider
    except ImportError:  # the local provider is optional for a Neon-only deployment
        supports = (False, False, False)
    else:
        supports = (
            LocalProvider.supports_reset,
            LocalProvider.supports_schema_diff,
            LocalProvider.supports_point_in_time,
        )
    return ProviderSummary(
        name=str(choice),
        label="Local clones" if choice == "local" else str(choice),
        location=target_location(),
        supports_reset=supports[0],
        supports_schema_diff=supports[1],
        supports_point_in_time=supports[2],
    )


@contextmanager
def opened_provider(*, interactive: bool = True) -> Iterator[BranchProvider]:
    """Yield the configured provider and close it afterwards.

    interactive: a web request waits for the answer, so Neon gets fewer retries and a short cap
    on Retry-After; the jobs use the provider's full patience.
    """
    provider: Any
    if interactive and getattr(settings, "BRANCH_PROVIDER", "local") == "neon":
        from dashboard.branches.neon_provider import NeonProvider

        provider = NeonProvider.from_settings(max_retries=1, retry_after_max=5.0)
    else:
        provider = get_provider()
    try:
        yield provider
    finally:
        close = getattr(provider, "close", None)
        if callable(close):
            close()


def _logged(exc: BranchError, doing: str) -> str:
    """Log a provider failure's detail and return its sentence for the page."""
    logger.warning("branch provider failed while %s: %s", doing, exc.detail)
    return exc.sentence


def check_branch_id(branch_id: str) -> str:
    """Return the id if it looks like a branch id, else raise Http404 with a sentence."""
    if not BRANCH_ID_PATTERN.match(branch_id or ""):
        raise Http404(f"{branch_id!r} is not a branch id.")
    return branch_id


def _sorted(branches: list[BranchInfo]) -> list[BranchInfo]:
    """Return the default branch first, then the newest first."""
    oldest = datetime.min.replace(tzinfo=UTC)
    by_newest = sorted(branches, key=lambda b: b.created_at or oldest, reverse=True)
    return sorted(by_newest, key=lambda b: not b.is_default)


def _local_target_database(provider: BranchProvider) -> str | None:
    """Return the target database a local provider clones from (None for other providers)."""
    target = getattr(provider, "target_database", None)
    return target if isinstance(target, str) and target else None


# --------------------------------------------------------------------------------------------
# The list


@dataclass
class BranchList:
    """The branches page: the provider, its branches (or why not), and recent requests."""

    provider: ProviderSummary
    branches: list[BranchInfo] = field(default_factory=list)
    error: str = ""
    cloned_from: str = ""  # local: the target database every branch starts from
    requests: list[BranchRequest] = field(default_factory=list)

    @property
    def creating(self) -> bool:
        """True while a branch is still being made, so the table refreshes itself."""
        return any(b.state == CREATING for b in self.branches) or any(
            r.status in (JobRun.Status.QUEUED, JobRun.Status.RUNNING) for r in self.requests
        )


def recent_requests(
    provider: str, branch_id: str = "", limit: int = RECENT_REQUESTS
) -> list[BranchRequest]:
    """Return the latest creates, deletes and resets made here with this provider."""
    requests = BranchRequest.objects.select_related("job_run").filter(provider=provider)
    if branch_id:
        requests = requests.filter(branch_id=branch_id)
    return list(requests[:limit])


def branch_list() -> BranchList:
    """Return the branches page's data; a provider failure becomes `error`."""
    summary = provider_summary()
    page = BranchList(provider=summary, requests=recent_requests(summary.name))
    try:
        with opened_provider() as provider:
            page.branches = _sorted(provider.list_branches())
            page.cloned_from = _local_target_database(provider) or ""
    except BranchError as exc:
        page.error = _logged(exc, "listing branches")
    return page


# --------------------------------------------------------------------------------------------
# Connection strings


def masked_url(url: str) -> str:
    """Return a connection URL with its password replaced by asterisks."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD_MASK}@{host}"))


@dataclass(frozen=True)
class ConnectionView:
    """Connection strings as a page shows them: masked, or in full after a reveal."""

    pooled: str
    direct: str
    revealed: bool

    @property
    def same(self) -> bool:
        """True when there is no pooler (local branches): one string serves both."""
        return self.pooled == self.direct


def masked_connection(provider: BranchProvider, branch_id: str) -> ConnectionView:
    """Return the branch's connection strings with the passwords masked."""
    urls = provider.connection_urls(branch_id)
    return ConnectionView(masked_url(urls.pooled), masked_url(urls.direct), revealed=False)


@dataclass
class ConnectionPart:
    """The connection part of a branch page: strings, or why they cannot be shown."""

    branch_id: str
    connection: ConnectionView | None = None
    error: str = ""


def connection_part(branch_id: str) -> ConnectionPart:
    """Return the masked connection strings of a branch (or the reason they are missing)."""
    check_branch_id(branch_id)
    part = ConnectionPart(branch_id=branch_id)
    try:
        with opened_provider() as provider:
            part.connection = masked_connection(provider, branch_id)
    except BranchError as exc:
        part.error = _logged(exc, f"reading the connection strings of {branch_id}")
    return part


def reveal_connection(request: HttpRequest, branch_id: str) -> ConnectionPart:
    """Return the full connection strings of a branch and audit the reveal.

    The strings are fetched for this answer only: not stored, cached or logged.
    """
    check_branch_id(branch_id)
    part = ConnectionPart(branch_id=branch_id)
    try:
        with opened_provider() as provider:
            branch = _existing_branch(provider, branch_id)
            urls = provider.connection_urls(branch_id)
    except BranchError as exc:
        part.error = _logged(exc, f"revealing the connection strings of {branch_id}")
        return part
    record(
        request,
        "branch.reveal",
        reason="connection strings revealed",
        detail={"branch_id": branch.id, "branch_name": branch.name, "provider": provider.name},
    )
    part.connection = ConnectionView(urls.pooled, urls.direct, revealed=True)
    return part


# --------------------------------------------------------------------------------------------
# One branch


def _existing_branch(provider: BranchProvider, branch_id: str) -> BranchInfo:
    """Return the branch, Http404 when the provider lists no such branch, else BranchError."""
    try:
        return provider.get_branch(branch_id)
    except BranchError as exc:
        failure = exc
    # Was it "no such branch" or "the provider failed"? The list tells them apart for any
    # provider; if listing fails too, the provider is the problem.
    if all(b.id != branch_id for b in provider.list_branches()):
        raise Http404(f"There is no branch {branch_id} (it may have been deleted).") from None
    raise failure


def action_refusal(branch: BranchInfo, action: str) -> str:
    """Return why a delete or reset of this branch is refused here ('' when allowed)."""
    if branch.is_default:
        return f"{branch.name} is the default branch: the console does not {action} it."
    if branch.extra.get("protected"):
        return f"{branch.name} is protected on Neon: remove the protection there first."
    if action == "reset" and not branch.parent_id:
        return f"{branch.name} has no parent branch to reset from."
    return ""


@dataclass
class BranchPage:
    """A branch page: the branch, its connection strings (masked) and its history."""

    provider: ProviderSummary
    branch_id: str
    branch: BranchInfo | None = None
    error: str = ""
    connection: ConnectionPart | None = None
    requests: list[BranchRequest] = field(default_factory=list)
    cloned_from: str = ""  # local: the target database, a parent that is not a branch

    @property
    def parent_is_branch(self) -> bool:
        """True when the parent has a branch page (not the local target database)."""
        parent = self.branch.parent_id if self.branch else None
        return bool(parent) and parent != self.cloned_from

    @property
    def delete_refusal(self) -> str:
        return action_refusal(self.branch, "delete") if self.branch else ""

    @property
    def reset_refusal(self) -> str:
        if not self.provider.supports_reset:
            return f"{self.provider.label} branches cannot be reset."
        return action_refusal(self.branch, "reset") if self.branch else ""


def branch_page(branch_id: str) -> BranchPage:
    """Return a branch page's data; Http404 for an unknown branch."""
    check_branch_id(branch_id)
    summary = provider_summary()
    page = BranchPage(
        provider=summary, branch_id=branch_id, requests=recent_requests(summary.name, branch_id)
    )
    try:
        with opened_provider() as provider:
            page.branch = _existing_branch(provider, branch_id)
            page.cloned_from = _local_target_database(provider) or ""
            page.connection = ConnectionPart(branch_id=branch_id)
            try:
                page.connection.connection = masked_connection(provider, branch_id)
            except BranchError as exc:
                page.connection.error = _logged(exc, f"reading connection strings of {branch_id}")
    except BranchError as exc:
        page.error = _logged(exc, f"reading branch {branch_id}")
    return page


@dataclass
class SchemaDiff:
    """The schema difference between a branch and its parent (or why there is none)."""

    branch_id: str
    supported: bool
    diff: str = ""
    error: str = ""

    @property
    def lines(self) -> list[tuple[str, str]]:
        """Return (kind, text) per line: kind is add, remove, hunk or context."""
        kinds = []
        for line in self.diff.splitlines():
            if line.startswith(("+++", "---")):
                kind = "file"
            elif line.startswith("+"):
                kind = "add"
            elif line.startswith("-"):
                kind = "remove"
            elif line.startswith("@@"):
                kind = "hunk"
            else:
                kind = "context"
            kinds.append((kind, line))
        return kinds


def schema_difference(branch_id: str) -> SchemaDiff:
    """Return the schema diff of a branch against its parent, where the provider can."""
    check_branch_id(branch_id)
    summary = provider_summary()
    result = SchemaDiff(branch_id=branch_id, supported=summary.supports_schema_diff)
    if not result.supported:
        return result
    try:
        with opened_provider() as provider:
            result.diff = provider.schema_diff(branch_id)
    except BranchError as exc:
        result.error = _logged(exc, f"comparing the schema of {branch_id}")
    return result


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

    def options(self) -> dict[str, object]:
        return {
            "schema_only": self.schema_only,
            "point_in_time": self.point_in_time.isoformat() if self.point_in_time else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


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


def action_target(branch_id: str, action: str) -> ActionTarget:
    """Return the branch a delete/reset is about (Http404 when unknown) and any refusal."""
    check_branch_id(branch_id)
    target = ActionTarget(provider=provider_summary(), action=action, branch_id=branch_id)
    try:
        with opened_provider() as provider:
            target.branch = _existing_branch(provider, branch_id)
    except BranchError as exc:
        target.error = _logged(exc, f"reading branch {branch_id} to {action} it")
        return target
    if action == "reset" and not target.provider.supports_reset:
        target.refusal = f"{target.provider.label} branches cannot be reset."
    else:
        target.refusal = action_refusal(target.branch, action)
    return target


def start_action(request: HttpRequest, target: ActionTarget) -> JobRun:
    """Record and enqueue a delete or reset of `target.branch`; return its job run."""
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
    return BranchJob(
        run=run,
        action=JOB_KINDS[run.kind],
        branch_request=BranchRequest.objects.filter(job_run=run).first(),
        deadline_seconds=int(getattr(settings, "BRANCH_READY_DEADLINE_SECONDS", 300)),
    )
