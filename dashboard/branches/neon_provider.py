"""Neon branches: the BranchProvider interface over the typed Neon API v2 client.

Neon's states are mapped to the console's (CREATING, READY, FAILED, UNKNOWN) and the raw value
is kept, so a state Neon adds later shows up as itself instead of breaking the page. Every
client error becomes a BranchError carrying the client's operator-facing sentence; the detail
(status, code, request id) is for the log. The API key is read from the environment here and
nowhere else, and neither it nor a connection password is ever logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

from dashboard.branches.neon_client import (
    Branch,
    Database,
    Endpoint,
    NeonApiError,
    NeonClient,
    NeonError,
    Operation,
)
from dashboard.branches.neon_console_copy import DatabaseAddress, console_placement
from dashboard.branches.provider import (
    CREATING,
    READY,
    UNKNOWN,
    BranchError,
    BranchInfo,
    ConnectionUrls,
    Progress,
)
from dashboard.suggested_sql import quote_identifier

logger = logging.getLogger(__name__)

# Neon has no "failed" branch state: a failed create shows as a failed operation instead.
# An archived branch is still usable (Neon restores it on the first connection).
NEON_BRANCH_STATES = {"init": CREATING, "resetting": CREATING, "ready": READY, "archived": READY}
PREFERRED_DATABASE = "neondb"  # the database Neon creates in a new project
ROLE_READY_SECONDS = 10.0  # how long a reveal (a web request) waits for Neon to apply a new role
BRANCH_ROLE_PREFIX = "sd_"


def branch_role_name(branch_id: str) -> str:
    """Return the name of the login role made for this branch alone (63 bytes at most)."""
    return (BRANCH_ROLE_PREFIX + branch_id.replace("-", "_"))[:63]


def _branch_urls(
    endpoint: Endpoint, database: str, role: str, password: str | None
) -> ConnectionUrls:
    """Return the pooled and direct URLs of a compute (Neon's pooler host adds `-pooler`)."""
    first, _, rest = endpoint.host.partition(".")
    pooler_host = f"{first}-pooler.{rest}" if rest else f"{first}-pooler"
    user = quote(role, safe="")
    if password is not None:
        user += ":" + quote(password, safe="")
    path = "/" + quote(database, safe="")

    def url(host: str) -> str:
        return f"postgresql://{user}@{host}{path}?sslmode=require"

    return ConnectionUrls(pooled=url(pooler_host), direct=url(endpoint.host), role=role)


def _quiet(_: str) -> None:
    return None


def branch_state(branch: Branch) -> str:
    """Return the console's state for a Neon branch (a pending change means still creating)."""
    state = NEON_BRANCH_STATES.get(branch.current_state, UNKNOWN)
    if state == READY and branch.pending_state:
        return CREATING
    return state


@contextmanager
def neon_errors(doing: str) -> Iterator[None]:
    """Turn client errors into BranchError: the client's sentence, and a detail for the log."""
    try:
        yield
    except NeonApiError as exc:
        detail = (
            f"Neon {exc.method} {exc.path} -> {exc.label} "
            f"(request_id={exc.request_id}) while {doing}"
        )
        raise BranchError(str(exc), detail) from None
    except NeonError as exc:
        raise BranchError(str(exc), f"{type(exc).__name__} while {doing}: {exc}") from None


class NeonProvider:
    """Branches of one Neon project, each created with a read-write compute."""

    name = "neon"
    supports_reset = True
    supports_schema_diff = True
    supports_point_in_time = True

    def __init__(
        self,
        client: NeonClient,
        *,
        database_name: str = "",
        role_name: str = "",
        poll_interval: float = 1.0,
        ready_deadline_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        console_database: DatabaseAddress | None = None,
        target_database: DatabaseAddress | None = None,
    ) -> None:
        self.client = client
        # Where the console's own database and the target are: a reveal names the branch's
        # copy of the console's database (each branch copies its parent's databases).
        self.console_database = console_database
        self.target_database = target_database
        self.database_name = database_name
        self.role_name = role_name
        self.poll_interval = poll_interval
        self.ready_deadline_seconds = ready_deadline_seconds
        self._sleep = sleep
        self._clock = clock
        # Operations started by create/reset, so wait_until_ready can follow them; a provider
        # made afresh (another process) falls back to watching the branch and its compute.
        self._operations: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_settings(cls, **overrides: Any) -> NeonProvider:
        """Return a provider for NEON_PROJECT_ID with the key from NEON_API_KEY (environment).

        `overrides` go to the client (max_retries, retry_after_max, sleep, ...) and, for
        sleep and clock, to the provider's own polling too.
        """
        from django.conf import settings

        api_key = os.environ.get("NEON_API_KEY", "").strip()
        project_id = str(getattr(settings, "NEON_PROJECT_ID", "") or "").strip()
        if not api_key:
            raise BranchError(
                "NEON_API_KEY is not set, so the console cannot talk to Neon. Create an API key "
                "in the Neon console (Account settings, API keys) and set NEON_API_KEY in the "
                "environment of the console and of its worker."
            )
        if not project_id:
            raise BranchError(
                "NEON_PROJECT_ID is not set. Set it to your Neon project's id (Project settings, "
                "General; it looks like 'cool-sky-12345678')."
            )
        sleep = overrides.get("sleep", time.sleep)
        clock = overrides.get("clock", time.monotonic)
        client_options: dict[str, Any] = {
            "base_url": settings.NEON_API_URL,
            "read_timeout": float(getattr(settings, "NEON_TIMEOUT_SECONDS", 30.0)),
            "max_retries": int(getattr(settings, "NEON_MAX_RETRIES", 4)),
            # A 423 means an operation runs: wait for it as long as for a branch to be ready.
            "locked_wait_seconds": float(getattr(settings, "BRANCH_READY_DEADLINE_SECONDS", 300)),
            **overrides,
        }
        try:
            client = NeonClient(api_key, project_id, **client_options)
        except ValueError as exc:  # pragma: no cover - both values are checked above
            raise BranchError(f"The Neon settings are incomplete: {exc}.") from None
        return cls(
            client,
            database_name=str(getattr(settings, "NEON_DATABASE_NAME", "") or ""),
            role_name=str(getattr(settings, "NEON_ROLE_NAME", "") or ""),
            poll_interval=float(getattr(settings, "NEON_POLL_INTERVAL_SECONDS", 1.0)),
            ready_deadline_seconds=float(getattr(settings, "BRANCH_READY_DEADLINE_SECONDS", 300)),
            sleep=sleep,
            clock=clock,
            console_database=DatabaseAddress.console(),
            target_database=DatabaseAddress.target(),
        )

    def __repr__(self) -> str:
        return f"NeonProvider(project_id={self.project_id!r})"

    @property
    def project_id(self) -> str:
        return self.client.project_id

    @property
    def location(self) -> str:
        """Return where the branches live, safe to show (no key)."""
        return f"project {self.project_id}"

    def close(self) -> None:
        self.client.close()

    # -- reading ----------------------------------------------------------------------------

    def history_retention_seconds(self) -> int:
        """Return how far back a branch at a past time may start (the project's history)."""
        with neon_errors("reading the project's history retention"):
            return self.client.history_retention_seconds()

    def _info(self, branch: Branch, parent_name: str | None = None) -> BranchInfo:
        return BranchInfo(
            id=branch.id,
            name=branch.name,
            state=branch_state(branch),
            parent_id=branch.parent_id,
            parent_name=parent_name,
            created_at=branch.created_at,
            expires_at=branch.expires_at,
            size_bytes=branch.logical_size,
            raw_state=branch.current_state,
            is_default=branch.default,
            extra={
                "pending_state": branch.pending_state or "",
                "protected": branch.protected,
                "init_source": branch.init_source or "",
                "schema_only": branch.init_source == "schema-only",
                "parent_lsn": branch.parent_lsn or "",
                "parent_timestamp": branch.parent_timestamp,
                "last_reset_at": branch.last_reset_at,
                "known_state": branch.has_known_state,
            },
        )

    def list_branches(self) -> list[BranchInfo]:
        """Return every branch of the project, with parent names."""
        with neon_errors("listing branches"):
            branches = self.client.branches_list()
        names = {b.id: b.name for b in branches}
        return [self._info(b, names.get(b.parent_id or "")) for b in branches]

    def get_branch(self, branch_id: str) -> BranchInfo:
        """Return one branch with its parent's name."""
        with neon_errors(f"reading branch {branch_id}"):
            branch = self.client.branch_get(branch_id)
            parent_name = None
            if branch.parent_id:
                try:
                    parent_name = self.client.branch_get(branch.parent_id).name
                except NeonApiError as exc:
                    if exc.status != 404:
                        raise
        return self._info(branch, parent_name)

    # -- creating and waiting ---------------------------------------------------------------

    def create_branch(
        self,
        name: str,
        *,
        parent_id: str | None = None,
        point_in_time: datetime | None = None,
        schema_only: bool = False,
        expires_at: datetime | None = None,
        progress: Progress | None = None,
    ) -> BranchInfo:
        """Ask Neon for a branch with a read-write compute; return it (usually still creating)."""
        say = progress or _quiet
        with neon_errors(f"creating branch {name!r}"):
            result = self.client.branch_create(
                name,
                parent_id=parent_id,
                parent_timestamp=point_in_time,
                schema_only=schema_only,
                expires_at=expires_at,
                with_endpoint=True,
            )
        branch = result.branch
        self._operations[branch.id] = tuple(op.id for op in result.operations)
        if result.reconciled:
            say(
                f"Neon's answer to the create was lost; branch {branch.name} ({branch.id}) "
                "was found and proven to be this request's, so no second one was made"
            )
        else:
            actions = ", ".join(op.action for op in result.operations) or "none"
            say(f"Neon accepted branch {branch.name} ({branch.id}); operations: {actions}")
        return self._info(branch)

    def wait_until_ready(
        self, branch_id: str, deadline_seconds: float, progress: Progress | None = None
    ) -> BranchInfo:
        """Poll the branch's operations until all finished, then the branch until ready.

        Raises BranchError when an operation fails or the deadline passes first.
        """
        say = progress or _quiet
        deadline = self._clock() + deadline_seconds
        pending = list(self._operations.pop(branch_id, ()))
        seen: dict[str, str] = {}
        last_seen = "no answer yet"
        with neon_errors(f"waiting for branch {branch_id}"):
            while True:
                pending = [op.id for op in self._poll(pending, seen, say) if not op.is_finished]
                if pending:
                    last_seen = f"{len(pending)} Neon operation(s) unfinished"
                else:
                    branch = self.client.branch_get(branch_id)
                    waiting_for = self._not_ready_because(branch)
                    if waiting_for is None:
                        say(f"Branch {branch.name} is ready")
                        return self.get_branch(branch_id)
                    if waiting_for != last_seen:
                        say(waiting_for)
                    last_seen = waiting_for
                if self._clock() >= deadline:
                    raise BranchError(
                        f"Branch {branch_id} was not ready after {deadline_seconds:g} seconds "
                        f"({last_seen}). Neon may still finish it: look at the branch on the "
                        "branches page or in the Neon console before trying again."
                    )
                self._sleep(self.poll_interval)

    def _poll(
        self, operation_ids: list[str], seen: dict[str, str], say: Progress
    ) -> list[Operation]:
        """Return the current state of these operations, noting each change of status."""
        operations = []
        for op_id in operation_ids:
            operation = self.client.operation_get(op_id)
            if seen.get(op_id) != operation.status:
                seen[op_id] = operation.status
                unknown = "" if operation.has_known_status else " (unknown to this console)"
                say(f"Neon operation {operation.action}: {operation.status}{unknown}")
            if operation.is_failed:
                raise BranchError(
                    f"Neon operation {operation.action} failed ({operation.status}: "
                    f"{operation.error or 'no reason given'}). Delete the branch and try again; "
                    "if it keeps failing, check the project in the Neon console.",
                    f"operation {operation.id} {operation.action} {operation.status}",
                )
            operations.append(operation)
        return operations

    def _not_ready_because(self, branch: Branch) -> str | None:
        """Return what the branch still waits for, or None when it and its compute are ready."""
        if branch_state(branch) != READY:
            pending = f" (becoming {branch.pending_state})" if branch.pending_state else ""
            return f"Branch {branch.name} is {branch.current_state}{pending}"
        for endpoint in self.client.branch_endpoints(branch.id):
            if endpoint.is_read_write and endpoint.current_state == "init":
                return f"Compute {endpoint.id} is starting"
        return None

    # -- connecting -------------------------------------------------------------------------

    def _database(self, branch_id: str, databases: tuple[Database, ...] | None = None) -> Database:
        """Return the database to connect to: NEON_DATABASE_NAME, else neondb or the first."""
        if databases is None:
            databases = self.client.databases_list(branch_id)
        if self.database_name:
            chosen = next((d for d in databases if d.name == self.database_name), None)
            if chosen is None:
                raise BranchError(
                    f"Branch {branch_id} has no database {self.database_name!r} "
                    "(NEON_DATABASE_NAME); fix the setting or create the database."
                )
            return chosen
        if not databases:
            raise BranchError(f"Branch {branch_id} has no database to connect to yet.")
        preferred = next((d for d in databases if d.name == PREFERRED_DATABASE), None)
        return preferred or databases[0]

    def _read_write_endpoint(self, branch_id: str) -> Endpoint:
        endpoint = next(
            (e for e in self.client.branch_endpoints(branch_id) if e.is_read_write), None
        )
        if endpoint is None:
            raise BranchError(
                f"Branch {branch_id} has no read-write compute, so there is nothing to "
                "connect to. Add a compute to it in the Neon console."
            )
        return endpoint

    def connection_urls(self, branch_id: str) -> ConnectionUrls:
        """Return pooled and direct URLs of the branch's own role (made on first use).

        The role is created through the API on this branch alone, named after the branch
        (branch_role_name), so no other branch, and not the parent, has it or its password. A
        role of that name on the parent (it would have been copied, password and all) is
        refused. NEON_ROLE_NAME and the database's owner are never revealed: their passwords
        are the parent's. The warning names the branch's other databases the role may open,
        the copy of the console's own database first among the reasons to care.
        """
        with neon_errors(f"revealing the connection strings of branch {branch_id}"):
            branch = self.client.branch_get(branch_id)
            endpoint = self._read_write_endpoint(branch_id)
            databases = self.client.databases_list(branch_id)
            database = self._database(branch_id, databases)
            role = branch_role_name(branch_id)
            if branch.parent_id and any(
                r.name == role for r in self.client.roles_list(branch.parent_id)
            ):
                raise BranchError(
                    f"The parent of branch {branch.name} has a role named {role}, so that role's "
                    "password would open the parent too; it is not revealed. Drop that role on "
                    "the parent in the Neon console."
                )
            if all(r.name != role for r in self.client.roles_list(branch_id)):
                _, operations = self.client.role_create(branch_id, role)
                logger.info("made Neon role %s on branch %s", role, branch_id)
                if operations:
                    self.client.operations_wait(
                        [op.id for op in operations],
                        timeout=min(self.ready_deadline_seconds, ROLE_READY_SECONDS),
                        poll_interval=self.poll_interval,
                    )
            password = self.client.role_password(branch_id, role)
            others = [d.name for d in databases if d.name != database.name]
            warning = self._other_databases_warning(branch.name, role, others)
        urls = _branch_urls(endpoint, database.name, role, password)
        return dataclasses.replace(urls, warning=warning)

    def _other_databases_warning(self, branch_name: str, role: str, others: list[str]) -> str:
        """Return what the revealed role may open besides its database ('' when nothing).

        Neon's API tells no database's privileges, so each is named with the condition; the
        copy of the console's own database (it has the console's name and the console's
        database is in this project) is named as such.
        """
        if not others:
            return ""
        listed = ", ".join(others)
        warning = (
            f"Branch {branch_name} also holds {listed}, copied from its parent. Role {role} is a "
            "member of neon_superuser, which reads every table of a database it can connect "
            "to: it can open each of them unless CONNECT there is revoked from PUBLIC. To close "
            f"that door, on the parent: REVOKE CONNECT ON DATABASE "
            f"{', '.join(quote_identifier(name) for name in others)} FROM PUBLIC, and GRANT "
            "CONNECT to the roles that need it."
        )
        console = self.console_database
        if console is None or self.target_database is None or console.name not in others:
            return warning
        placement = console_placement(
            console, self.target_database, self.project_id, self.client.project_endpoints
        )
        if placement.in_project is False:
            return warning
        what = "is a copy of" if placement.in_project else "has the name of"
        return (
            f"{warning} {console.name} {what} the console's own database ({placement.how}): "
            "the operators' password hashes, their sessions and the audit trail. Host the "
            f"console's database outside Neon project {self.project_id}, or revoke CONNECT on "
            "it from PUBLIC before branches are made (README, Branch connection strings)."
        )

    def connection_urls_without_password(self, branch_id: str) -> ConnectionUrls:
        """Return the same URLs as connection_urls without a password (nothing is created)."""
        with neon_errors(f"reading the connection strings of branch {branch_id}"):
            endpoint = self._read_write_endpoint(branch_id)
            database = self._database(branch_id)
        return _branch_urls(endpoint, database.name, branch_role_name(branch_id), None)

    def migration_url(self, branch_id: str) -> str:
        """Return the direct URI of the owner role (NEON_ROLE_NAME or the database's owner).

        Migrations need the tables' owner. Its password is the parent's, so this URL is for
        the console's own trial runs only: never shown, logged or stored.
        """
        with neon_errors(f"reading the migration connection of branch {branch_id}"):
            endpoint = self._read_write_endpoint(branch_id)
            database = self._database(branch_id)
            role = self.role_name or database.owner_name
            direct = self.client.connection_uri(
                branch_id, database.name, role, pooled=False, endpoint_id=endpoint.id
            )
        return direct.uri

    # -- deleting, resetting, comparing -----------------------------------------------------

    def delete_branch(self, branch_id: str) -> None:
        """Delete a branch; one that is already gone counts as deleted."""
        with neon_errors(f"deleting branch {branch_id}"):
            result = self.client.branch_delete(branch_id)
        self._operations.pop(branch_id, None)
        if result.already_gone:
            logger.info("Neon branch %s was already gone; nothing to delete", branch_id)

    def reset_branch(
        self,
        branch_id: str,
        progress: Progress | None = None,
        *,
        preserve_under_name: str | None = None,
    ) -> BranchInfo:
        """Restore the branch to its parent's current state and wait until it is ready.

        preserve_under_name keeps the branch's state before the reset as a new branch (Neon
        refuses to reset a branch that has children without it).
        """
        say = progress or _quiet
        with neon_errors(f"resetting branch {branch_id} from its parent"):
            result = self.client.branch_restore_from_parent(
                branch_id, preserve_under_name=preserve_under_name or None
            )
        self._operations[branch_id] = tuple(op.id for op in result.operations)
        actions = ", ".join(op.action for op in result.operations) or "none"
        say(f"Neon is resetting {result.branch.name} from its parent; operations: {actions}")
        if preserve_under_name:
            say(f"Its state before the reset is kept as branch {preserve_under_name}")
        return self.wait_until_ready(branch_id, self.ready_deadline_seconds, progress)

    def children_blocking_reset(self, branch_id: str) -> list[str]:
        """Return the names of the child branches that make a reset need preserve_under_name."""
        with neon_errors(f"listing the child branches of {branch_id}"):
            return sorted(b.name for b in self.client.branch_children(branch_id))

    def schema_diff(self, branch_id: str) -> str:
        """Return Neon's schema diff of the branch's database against its parent ('' if equal)."""
        with neon_errors(f"comparing the schema of branch {branch_id} with its parent"):
            branch = self.client.branch_get(branch_id)
            if not branch.parent_id:
                raise BranchError(
                    f"Branch {branch.name} has no parent branch, so there is nothing to "
                    "compare its schema with."
                )
            database = self._database(branch_id)
            return self.client.branch_schema_diff(
                branch_id, base_branch_id=branch.parent_id, db_name=database.name
            )
