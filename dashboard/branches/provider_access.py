"""The branch provider in use: its summary, opening it, and reading through it safely."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import Http404

from dashboard.branches.provider import BranchError, BranchInfo, BranchProvider, get_provider

logger = logging.getLogger(__name__)

# What a branch id looks like in a URL (Neon: br-cool-sky-123; local: <db>__br__<name>).
BRANCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


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

        provider = NeonProvider.from_settings(
            max_retries=1, retry_after_max=5.0, locked_wait_seconds=5.0
        )
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
