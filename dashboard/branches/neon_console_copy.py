"""Whether Neon branches copy the console's own database into reach of a revealed branch role.

A Neon branch copies every database of its parent branch
(https://neon.com/docs/manage/databases). When the console's own database (DATABASE_URL: the
operators' password hashes, their sessions, the audit trail) lives in the target's Neon project,
a branch made from its branch holds a copy of it, and the role a reveal shows, a member of
`neon_superuser` (which reads every table, https://neon.com/docs/manage/roles), can open that
copy unless CONNECT on it is revoked from PUBLIC. `manage.py doctor` and the Neon reveal ask here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import URL, make_url

from core.config import direct_url_from
from dashboard.branches.neon_client import Endpoint, NeonError
from dashboard.branches.provider import BranchError

NEON_ENDPOINT_PREFIX = "ep-"  # the first label of a Neon compute's host is its endpoint id


@dataclass(frozen=True)
class DatabaseAddress:
    """Where a database is (no role, no password): the direct host, its port and its name."""

    host: str
    port: int
    name: str

    @classmethod
    def from_url(cls, url: str | URL) -> DatabaseAddress:
        """Return the address of a URL, Neon's `-pooler` removed from the host."""
        parsed = direct_url_from(make_url(url))
        return cls((parsed.host or "").lower(), parsed.port or 5432, parsed.database or "")

    @classmethod
    def console(cls) -> DatabaseAddress:
        """Return the address of the console's own database (Django's DATABASES)."""
        from django.conf import settings

        db = settings.DATABASES["default"]
        url = URL.create(
            "postgresql",
            host=str(db.get("HOST") or "") or None,
            port=int(str(db["PORT"])) if db.get("PORT") else None,
            database=str(db.get("NAME") or ""),
        )
        return cls.from_url(url)

    @classmethod
    def target(cls) -> DatabaseAddress:
        """Return the address of the target database (TARGET_DATABASE_URL)."""
        from dashboard.target import target_url

        return cls.from_url(target_url())

    @property
    def endpoint_id(self) -> str:
        """Return the Neon endpoint id the host names (`ep-…`), or '' for another server."""
        first = self.host.split(".", 1)[0]
        return first if first.startswith(NEON_ENDPOINT_PREFIX) else ""

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ConsolePlacement:
    """Whether the console's database is in the target's Neon project, and how that was told.

    in_project is None when Neon could not be asked (then `how` says why).
    """

    in_project: bool | None
    how: str


def console_placement(
    console: DatabaseAddress,
    target: DatabaseAddress,
    project_id: str,
    project_endpoints: Callable[[], Sequence[Endpoint]],
) -> ConsolePlacement:
    """Return whether the console's database is in the target's Neon project `project_id`.

    On the target's own server (same host, or the same Neon endpoint behind `-pooler`) it is;
    on a host that names no Neon endpoint it is not; otherwise the project's computes are
    listed (`project_endpoints`, one request) and the console's endpoint looked for there.
    """
    if console.server == target.server or (
        console.endpoint_id and console.endpoint_id == target.endpoint_id
    ):
        compute = f"Neon compute {console.endpoint_id}" if console.endpoint_id else console.server
        return ConsolePlacement(True, f"on the target's own {compute}, in project {project_id}")
    if not console.endpoint_id:
        return ConsolePlacement(
            False, f"on {console.server}, not a Neon compute: outside project {project_id}"
        )
    try:
        endpoints = project_endpoints()
    except (NeonError, BranchError) as exc:
        return ConsolePlacement(None, f"Neon could not be asked whether it is: {exc}")
    found = next((e for e in endpoints if e.id == console.endpoint_id), None)
    if found is None:
        return ConsolePlacement(
            False, f"on Neon compute {console.endpoint_id}, outside project {project_id}"
        )
    return ConsolePlacement(
        True, f"on Neon compute {found.id} of branch {found.branch_id}, in project {project_id}"
    )
