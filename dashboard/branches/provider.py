"""The branch provider interface: what the console needs from Neon or from a local clone.

`BRANCH_PROVIDER=neon` gives real Neon branches through the HTTP API; `BRANCH_PROVIDER=local`
clones the target database on the same server. Callers (the branches pages, migration trial
runs) only use this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# Branch states every provider maps to; an unknown raw state is kept in `raw_state`.
CREATING, READY, FAILED, DELETED, UNKNOWN = "creating", "ready", "failed", "deleted", "unknown"


@dataclass(frozen=True)
class BranchInfo:
    """One branch as the console shows it."""

    id: str
    name: str
    state: str
    parent_id: str | None = None
    parent_name: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    size_bytes: int | None = None
    raw_state: str = ""
    is_default: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectionUrls:
    """Connection strings of a branch (secrets: never log them; render only on reveal).

    role is the branch's own login role (it works on that branch only); warning says what an
    operator should know about it, e.g. that the server still lets it connect elsewhere.
    """

    pooled: str
    direct: str
    role: str = ""
    warning: str = ""


class BranchError(Exception):
    """A provider failure with an operator-facing sentence."""

    def __init__(self, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.detail = detail or sentence


Progress = Callable[[str], None]


class BranchProvider(Protocol):
    name: str
    supports_reset: bool
    supports_schema_diff: bool
    supports_point_in_time: bool

    def list_branches(self) -> list[BranchInfo]: ...

    def get_branch(self, branch_id: str) -> BranchInfo: ...

    def create_branch(
        self,
        name: str,
        *,
        parent_id: str | None = None,
        point_in_time: datetime | None = None,
        schema_only: bool = False,
        expires_at: datetime | None = None,
        progress: Progress | None = None,
    ) -> BranchInfo: ...

    def wait_until_ready(
        self, branch_id: str, deadline_seconds: float, progress: Progress | None = None
    ) -> BranchInfo: ...

    def connection_urls(self, branch_id: str) -> ConnectionUrls:
        """The URLs an engineer may see: the branch's own role with its password, never a role
        whose password opens the parent (made on first use where missing)."""
        ...

    def connection_urls_without_password(self, branch_id: str) -> ConnectionUrls:
        """The same URLs with no password in them, read without creating anything."""
        ...

    def migration_url(self, branch_id: str) -> str:
        """The direct URL the console itself runs migrations with (never shown or logged)."""
        ...

    def delete_branch(self, branch_id: str) -> None: ...

    def reset_branch(
        self,
        branch_id: str,
        progress: Progress | None = None,
        *,
        preserve_under_name: str | None = None,
    ) -> BranchInfo: ...

    def children_blocking_reset(self, branch_id: str) -> list[str]: ...

    def schema_diff(self, branch_id: str) -> str: ...


def get_provider() -> BranchProvider:
    """Return the provider chosen by BRANCH_PROVIDER (`local` or `neon`)."""
    from django.conf import settings

    choice = getattr(settings, "BRANCH_PROVIDER", "local")
    if choice == "neon":
        from dashboard.branches.neon_provider import NeonProvider

        return NeonProvider.from_settings()
    if choice == "local":
        from dashboard.branches.local_provider import LocalProvider

        return LocalProvider.from_settings()
    raise BranchError(f"BRANCH_PROVIDER is {choice!r}; use 'local' or 'neon'.")
