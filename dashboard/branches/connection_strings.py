"""Branch connection strings: masked by default, revealed in full on request and audited."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.http import HttpRequest

from dashboard.audit.services import record
from dashboard.branches.provider import BranchError, BranchProvider
from dashboard.branches.provider_access import (
    _existing_branch,
    _logged,
    check_branch_id,
    opened_provider,
)

PASSWORD_MASK = "********"  # noqa: S105 - what replaces a password, not one


def masked_url(url: str) -> str:
    """Return a connection URL with its password (present or not) shown as asterisks."""
    parts = urlsplit(url)
    if parts.username is None:
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
    role: str = ""
    warning: str = ""

    @property
    def same(self) -> bool:
        """True when there is no pooler (local branches): one string serves both."""
        return self.pooled == self.direct


def masked_connection(provider: BranchProvider, branch_id: str) -> ConnectionView:
    """Return the branch's connection strings with the passwords masked (none is read)."""
    urls = provider.connection_urls_without_password(branch_id)
    return ConnectionView(
        masked_url(urls.pooled), masked_url(urls.direct), revealed=False, role=urls.role
    )


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

    They name the branch's own role, which works on that branch only (the provider makes it
    where missing). The strings are fetched for this answer only: not stored, cached or logged.
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
        detail={
            "branch_id": branch.id,
            "branch_name": branch.name,
            "provider": provider.name,
            "role": urls.role,
        },
    )
    part.connection = ConnectionView(
        urls.pooled, urls.direct, revealed=True, role=urls.role, warning=urls.warning
    )
    return part
