"""The data of the branches pages: the list, one branch, and its schema diff."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.branches.connection_strings import ConnectionPart, masked_connection
from dashboard.branches.models import BranchRequest
from dashboard.branches.provider import CREATING, BranchError, BranchInfo
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
from dashboard.jobs.models import JobRun
from dashboard.paging import PageWindow, page_window

RECENT_REQUESTS = 10
BRANCH_PAGE_SIZE = 50  # branches a page of the list shows (all are read: the order is ours)


@dataclass
class BranchList:
    """The branches page: the provider, its branches (or why not), and recent requests."""

    provider: ProviderSummary
    branches: list[BranchInfo] = field(default_factory=list)
    error: str = ""
    cloned_from: str = ""  # local: the target database every branch starts from
    requests: list[BranchRequest] = field(default_factory=list)
    window: PageWindow = field(default_factory=lambda: page_window(1, BRANCH_PAGE_SIZE, 0))

    @property
    def shown(self) -> list[BranchInfo]:
        """Return the branches of the page shown."""
        return self.branches[self.window.offset : self.window.offset + self.window.size]

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


def branch_list(page: int = 1, *, page_size: int = BRANCH_PAGE_SIZE) -> BranchList:
    """Return the branches page's data (page `page` of the branches); a provider failure
    becomes `error`."""
    summary = provider_summary()
    listing = BranchList(provider=summary, requests=recent_requests(summary.name))
    try:
        with opened_provider() as provider:
            listing.branches = _sorted(provider.list_branches())
            listing.cloned_from = _local_target_database(provider) or ""
    except BranchError as exc:
        listing.error = _logged(exc, "listing branches")
    listing.window = page_window(page, page_size, len(listing.branches))
    return listing


# --------------------------------------------------------------------------------------------
# One branch


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
