"""A small typed client for the branch parts of the Neon API v2 (no Django here).

The contract is the Neon API v2 OpenAPI description; the part this client uses is committed with
the tests (tests/fakes/neon_api_v2_subset.json).
Every call has explicit timeouts and bounded, jittered retries; a branch create is never
blindly repeated after an ambiguous failure (the branch is looked up by name first). The API
key never appears in exceptions, reprs or log messages, and neither do connection passwords.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

# The names in __all__ are re-exported here: importers keep using this module.
from dashboard.branches.neon_errors import (
    NeonApiError,
    NeonError,
    NeonOperationError,
    NeonProtocolError,
    NeonTimeoutError,
    NeonTransportError,
    _CarriedOut,
)
from dashboard.branches.neon_models import (
    BRANCH_STATES,
    ENDPOINT_STATES,
    OPERATION_STATUSES,
    OPERATION_STATUSES_DONE,
    OPERATION_STATUSES_FAILED,
    OPERATION_STATUSES_PENDING,
    Branch,
    BranchOperations,
    ConnectionUri,
    CreateResult,
    Database,
    DeleteResult,
    Endpoint,
    Operation,
    Role,
    _connection_uris,
)
from dashboard.branches.neon_parsing import _items, _required, _rfc3339, redact_uri
from dashboard.branches.neon_retry import RETRY_STATUSES, RetryingSender

__all__ = [
    "BRANCH_STATES",
    "DEFAULT_BASE_URL",
    "ENDPOINT_STATES",
    "OPERATION_STATUSES",
    "OPERATION_STATUSES_DONE",
    "OPERATION_STATUSES_FAILED",
    "OPERATION_STATUSES_PENDING",
    "RETRY_STATUSES",
    "Branch",
    "BranchOperations",
    "ConnectionUri",
    "CreateResult",
    "Database",
    "DeleteResult",
    "Endpoint",
    "NeonApiError",
    "NeonClient",
    "NeonError",
    "NeonOperationError",
    "NeonProtocolError",
    "NeonTimeoutError",
    "NeonTransportError",
    "Operation",
    "Role",
    "redact_uri",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"


class NeonClient(RetryingSender):
    """Typed access to one Neon project's branches over the Neon API v2."""

    def __init__(
        self,
        api_key: str,
        project_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        write_timeout: float = 10.0,
        pool_timeout: float = 5.0,
        max_retries: int = 4,
        locked_wait_seconds: float = 300.0,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        retry_after_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Neon API key is required")
        if not project_id:
            raise ValueError("a Neon project id is required")
        self._api_key = api_key
        self.project_id = project_id
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, max_retries)
        self.locked_wait_seconds = max(0.0, locked_wait_seconds)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_max = retry_after_max
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # jitter only, not cryptography
        self.timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "schemadesk-neon-client",
            },
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"NeonClient(project_id={self.project_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NeonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- the project --------------------------------------------------------------------------

    def history_retention_seconds(self) -> int:
        """Return how far back the project's history reaches (branches at a past time)."""
        data = self._json("GET", self._project_path())
        project = _required(data, "project", "project")
        seconds = project.get("history_retention_seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            raise NeonProtocolError("Neon answered without the project's history retention.")
        return seconds

    # ---- branches ---------------------------------------------------------------------------

    def branches_list(self, search: str | None = None, *, page_size: int = 100) -> list[Branch]:
        """Return the project's branches (all pages), optionally filtered by Neon's search."""
        branches: list[Branch] = []
        params: dict[str, str | int] = {"limit": page_size}
        if search:
            params["search"] = search
        seen_cursors: set[str] = set()
        while True:
            data = self._json("GET", self._project_path("branches"), params=params)
            page = _items(data, "branches")
            branches.extend(Branch.from_api(item) for item in page)
            pagination = data.get("pagination")
            cursor = pagination.get("next") if isinstance(pagination, Mapping) else None
            if len(page) < page_size or not isinstance(cursor, str) or not cursor:
                return branches
            if cursor in seen_cursors:
                return branches
            seen_cursors.add(cursor)
            params = {**params, "cursor": cursor}

    def branch_get(self, branch_id: str) -> Branch:
        """Return one branch; a missing branch raises NeonApiError with status 404."""
        data = self._json("GET", self._branch_path(branch_id))
        return Branch.from_api(_required(data, "branch", "branch"))

    def branch_find_by_name(self, name: str) -> Branch | None:
        """Return the branch with exactly this name, or None."""
        for branch in self.branches_list(search=name):
            if branch.name == name:
                return branch
        return None

    def branch_create(
        self,
        name: str,
        parent_id: str | None = None,
        parent_timestamp: datetime | str | None = None,
        schema_only: bool = False,
        expires_at: datetime | str | None = None,
        with_endpoint: bool = True,
    ) -> CreateResult:
        """Create a branch (with a read-write compute unless told otherwise) and return it.

        The name is required: after an ambiguous failure (timeout, 5xx) it is how the client
        finds out whether Neon created the branch. A branch is adopted only when it is proven to
        be this request's (see _created_branch); when no branch has the name, the create is sent
        again; otherwise the failure is reported.
        """
        if not name:
            raise ValueError("a branch name is required (it makes a retried create safe)")
        branch: dict[str, Any] = {"name": name}
        if parent_id:
            branch["parent_id"] = parent_id
        if parent_timestamp is not None:
            branch["parent_timestamp"] = _rfc3339(parent_timestamp)
        if schema_only:
            branch["init_source"] = "schema-only"
        if expires_at is not None:
            branch["expires_at"] = _rfc3339(expires_at)
        body: dict[str, Any] = {"branch": branch}
        if with_endpoint:
            body["endpoints"] = [{"type": "read_write"}]

        # Neon's created_at has whole seconds: compare with the start's whole second.
        started = datetime.now(UTC).replace(microsecond=0)
        found: list[Branch] = []

        def look() -> None:
            made = self._created_branch(name, parent_id, schema_only, started)
            if made is None:
                logger.info("Neon branch %r was not created by the failed attempt", name)
                return
            logger.info("Neon branch %r was created by the failed attempt: %s", name, made.id)
            found.append(made)
            raise _CarriedOut

        try:
            response = self._send("POST", self._project_path("branches"), json_body=body, look=look)
        except _CarriedOut:
            return CreateResult(
                branch=found[0], endpoints=self.branch_endpoints(found[0].id), reconciled=True
            )
        data = self._decode(response)
        return CreateResult(
            branch=Branch.from_api(_required(data, "branch", "branch")),
            endpoints=tuple(Endpoint.from_api(e) for e in _items(data, "endpoints")),
            operations=tuple(Operation.from_api(o) for o in _items(data, "operations")),
            connection_uris=tuple(_connection_uris(_items(data, "connection_uris"))),
            databases=tuple(Database.from_api(d) for d in _items(data, "databases")),
            roles=tuple(Role.from_api(r) for r in _items(data, "roles")),
        )

    def _created_branch(
        self, name: str, parent_id: str | None, schema_only: bool, started: datetime
    ) -> Branch | None:
        """Return the branch a create of `name` made, None when no branch has that name.

        Proof is: exactly one branch of that name, created at or after the request started,
        with the parent and the kind (schema-only or not) that were asked for. A branch of the
        name that fails the proof is someone else's (or cannot be told apart): NeonError, and
        nothing is adopted or sent again.
        """
        same_name = [b for b in self.branches_list(search=name) if b.name == name]
        if not same_name:
            return None
        expected_parent = None if schema_only else parent_id or self._default_branch_id()
        expected_source = "schema-only" if schema_only else "parent-data"
        proven = [
            b
            for b in same_name
            if b.created_at is not None
            and b.created_at >= started
            and b.parent_id == expected_parent
            and (b.init_source or "parent-data") == expected_source
        ]
        if len(proven) == 1:
            return proven[0]
        raise NeonError(
            f"Neon's answer to creating branch {name!r} was lost, and the branch of that name "
            "that exists cannot be proven to be the one this console asked for, so it was "
            "neither used nor created again. Look at the project's branches in the Neon console "
            "before trying again."
        )

    def _default_branch_id(self) -> str | None:
        return next((b.id for b in self.branches_list() if b.default), None)

    def branch_children(self, branch_id: str) -> list[Branch]:
        """Return the branches whose parent is this branch."""
        return [b for b in self.branches_list() if b.parent_id == branch_id]

    def branch_delete(self, branch_id: str) -> DeleteResult:
        """Delete a branch; a branch that is already gone (204 or 404) counts as success.

        After an ambiguous failure the branch is looked up: gone means deleted, present means
        the delete was not carried out and is sent again.
        """

        def look() -> None:
            try:
                self.branch_get(branch_id)
            except NeonApiError as exc:
                if exc.status == 404:
                    raise _CarriedOut from None
                raise

        try:
            response = self._send("DELETE", self._branch_path(branch_id), look=look)
        except _CarriedOut:
            logger.info("Neon branch %s is gone after an ambiguous failure", branch_id)
            return DeleteResult(branch_id=branch_id, already_gone=False)
        except NeonApiError as exc:
            if exc.status == 404:
                logger.info("Neon branch %s was already gone", branch_id)
                return DeleteResult(branch_id=branch_id, already_gone=True)
            raise
        if response.status_code == 204:
            logger.info("Neon branch %s was already gone", branch_id)
            return DeleteResult(branch_id=branch_id, already_gone=True)
        data = self._decode(response)
        return DeleteResult(
            branch_id=branch_id,
            already_gone=False,
            operations=tuple(Operation.from_api(o) for o in _items(data, "operations")),
        )

    def branch_restore_from_parent(
        self,
        branch_id: str,
        *,
        parent_id: str | None = None,
        preserve_under_name: str | None = None,
    ) -> BranchOperations:
        """Reset a branch to the current head of its parent and return the started operations.

        preserve_under_name keeps the branch's current state as a new branch of that name
        (Neon requires it for a branch that has children). After an ambiguous failure the
        restore is sent again only if the branch's last_reset_at did not move (and it is not
        resetting); otherwise the restore happened and the branch is returned without
        operations (watch the branch until it is ready).
        """
        before = self.branch_get(branch_id)
        parent_id = parent_id or before.parent_id
        if parent_id is None:
            raise NeonError(
                f"Branch {branch_id} has no parent branch on Neon, so it cannot be reset "
                "from its parent."
            )
        body: dict[str, Any] = {"source_branch_id": parent_id}
        if preserve_under_name:
            body["preserve_under_name"] = preserve_under_name
        moved: list[Branch] = []

        def look() -> None:
            now = self.branch_get(branch_id)
            if now.last_reset_at != before.last_reset_at or now.current_state == "resetting":
                moved.append(now)
                raise _CarriedOut

        try:
            response = self._send(
                "POST", self._branch_path(branch_id, "restore"), json_body=body, look=look
            )
        except _CarriedOut:
            logger.info("Neon branch %s was reset by the failed attempt", branch_id)
            return BranchOperations(branch=moved[0])
        data = self._decode(response)
        return BranchOperations(
            branch=Branch.from_api(_required(data, "branch", "branch")),
            operations=tuple(Operation.from_api(o) for o in _items(data, "operations")),
        )

    def branch_schema_diff(
        self, branch_id: str, base_branch_id: str | None = None, db_name: str = "neondb"
    ) -> str:
        """Return Neon's schema diff of a database between a branch and its base (parent)."""
        params: dict[str, str] = {"db_name": db_name}
        if base_branch_id:
            params["base_branch_id"] = base_branch_id
        data = self._json("GET", self._branch_path(branch_id, "compare_schema"), params=params)
        diff = data.get("diff")
        return diff if isinstance(diff, str) else ""

    def branch_endpoints(self, branch_id: str) -> tuple[Endpoint, ...]:
        """Return the compute endpoints of a branch."""
        data = self._json("GET", self._branch_path(branch_id, "endpoints"))
        return tuple(Endpoint.from_api(e) for e in _items(data, "endpoints"))

    def project_endpoints(self) -> tuple[Endpoint, ...]:
        """Return the compute endpoints of every branch of the project."""
        data = self._json("GET", self._project_path("endpoints"))
        return tuple(Endpoint.from_api(e) for e in _items(data, "endpoints"))

    def databases_list(self, branch_id: str) -> tuple[Database, ...]:
        """Return the databases of a branch."""
        data = self._json("GET", self._branch_path(branch_id, "databases"))
        return tuple(Database.from_api(d) for d in _items(data, "databases"))

    def roles_list(self, branch_id: str) -> tuple[Role, ...]:
        """Return the Postgres roles of a branch (without passwords)."""
        data = self._json("GET", self._branch_path(branch_id, "roles"))
        return tuple(Role.from_api(r) for r in _items(data, "roles"))

    def role_create(self, branch_id: str, name: str) -> tuple[Role, tuple[Operation, ...]]:
        """Create a login role on this branch only; return it and the operations it started.

        After an ambiguous failure the branch's roles are looked at: a role of that name is
        this request's (the caller creates only a name that was absent), none means it is sent
        again.
        """

        def look() -> None:
            if any(r.name == name for r in self.roles_list(branch_id)):
                raise _CarriedOut

        try:
            response = self._send(
                "POST",
                self._branch_path(branch_id, "roles"),
                json_body={"role": {"name": name}},
                look=look,
            )
        except _CarriedOut:
            return Role(branch_id=branch_id, name=name), ()
        data = self._decode(response)
        return (
            Role.from_api(_required(data, "role", "role")),
            tuple(Operation.from_api(o) for o in _items(data, "operations")),
        )

    def role_password(self, branch_id: str, name: str) -> str:
        """Return the password of a role of a branch (a secret: never log or store it)."""
        data = self._json("GET", self._branch_path(branch_id, "roles", name, "reveal_password"))
        password = data.get("password")
        if not isinstance(password, str) or not password:
            raise NeonProtocolError("Neon answered without the role's password; try again later.")
        return password

    # ---- operations and connections ----------------------------------------------------------

    def operation_get(self, operation_id: str) -> Operation:
        """Return one operation of the project."""
        data = self._json("GET", self._project_path("operations", operation_id))
        return Operation.from_api(_required(data, "operation", "operation"))

    def operations_wait(
        self,
        operation_ids: Iterable[str],
        *,
        timeout: float = 300.0,
        poll_interval: float = 1.0,
    ) -> tuple[Operation, ...]:
        """Poll operations until all are finished; raise NeonOperationError if one fails."""
        ids = list(dict.fromkeys(operation_ids))
        done: dict[str, Operation] = {}
        deadline = self._clock() + timeout
        warned: set[str] = set()
        while True:
            for op_id in ids:
                if op_id in done:
                    continue
                operation = self.operation_get(op_id)
                if operation.is_failed:
                    raise NeonOperationError(
                        f"Neon operation {operation.action} ({operation.id}) ended as "
                        f"{operation.status}: {operation.error or 'no reason given'}.",
                        operation,
                    )
                if operation.is_finished:
                    done[op_id] = operation
                elif not operation.has_known_status and operation.status not in warned:
                    warned.add(operation.status)
                    logger.warning(
                        "Neon operation %s has an unknown status %r; still waiting",
                        operation.id,
                        operation.status,
                    )
            if len(done) == len(ids):
                return tuple(done[op_id] for op_id in ids)
            if self._clock() >= deadline:
                raise NeonOperationError(
                    f"Neon operations did not finish within {timeout:g} seconds; "
                    "check the branch in the Neon console."
                )
            self._sleep(poll_interval)

    def connection_uri(
        self,
        branch_id: str,
        database_name: str,
        role_name: str,
        pooled: bool,
        *,
        endpoint_id: str | None = None,
    ) -> ConnectionUri:
        """Return a connection URI (with password) for a database of a branch."""
        params: dict[str, str] = {
            "branch_id": branch_id,
            "database_name": database_name,
            "role_name": role_name,
            "pooled": "true" if pooled else "false",
        }
        if endpoint_id:
            params["endpoint_id"] = endpoint_id
        data = self._json("GET", self._project_path("connection_uri"), params=params)
        uri = data.get("uri")
        if not isinstance(uri, str) or not uri:
            raise NeonProtocolError("Neon answered without a connection URI; try again later.")
        return ConnectionUri.from_uri(uri, pooled=pooled)

    # ---- plumbing ------------------------------------------------------------------------------

    def _project_path(self, *parts: str) -> str:
        segments = ["projects", self.project_id, *parts]
        return "/" + "/".join(quote(s, safe="") for s in segments)

    def _branch_path(self, branch_id: str, *parts: str) -> str:
        return self._project_path("branches", branch_id, *parts)
