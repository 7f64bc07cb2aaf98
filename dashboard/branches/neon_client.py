"""A small typed client for the branch parts of the Neon API v2 (no Django here).

The contract is the Neon API v2 OpenAPI description (shared/reference/neon-api-v2.openapi.json).
Every call has explicit timeouts and bounded, jittered retries; a branch create is never
blindly repeated after an ambiguous failure (the branch is looked up by name first). The API
key never appears in exceptions, reprs or log messages, and neither do connection passwords.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"

# Known values of the API's enums. Anything else is kept as the raw string, never rejected:
# Neon adds states over time (BranchState is documented as a free string already).
BRANCH_STATES = frozenset({"init", "resetting", "ready", "archived"})
ENDPOINT_STATES = frozenset({"init", "active", "idle"})
OPERATION_STATUSES_DONE = frozenset({"finished", "skipped"})
OPERATION_STATUSES_FAILED = frozenset({"failed", "error", "cancelled"})
OPERATION_STATUSES_PENDING = frozenset({"scheduling", "running", "cancelling"})
OPERATION_STATUSES = (
    OPERATION_STATUSES_DONE | OPERATION_STATUSES_FAILED | OPERATION_STATUSES_PENDING
)

# 423 (a conflicting operation runs) and 429 (rate limited) mean the request was not carried out.
# A 5xx or a timeout is ambiguous: the request may or may not have been carried out.
RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504})

_URI_PASSWORD = re.compile(r"(?P<head>postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Errors


class NeonError(Exception):
    """Base class of every error this client raises; str() is a sentence for the operator."""


class NeonApiError(NeonError):
    """Neon answered with an error status and (usually) a GeneralError body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._sentence())

    @property
    def label(self) -> str:
        """Status and code, e.g. '423 LOCKED'; the HTTP reason stands in for an empty code."""
        code = self.code
        if not code:
            try:
                code = HTTPStatus(self.status).phrase.upper().replace(" ", "_")
            except ValueError:
                code = "ERROR"
        return f"{self.status} {code}"

    def _sentence(self) -> str:
        label, detail = self.label, self.message.rstrip(".")
        status = self.status
        if status == 401:
            text = f"Neon did not accept the API key ({label}); check NEON_API_KEY"
        elif status == 403:
            text = (
                f"The Neon API key is not allowed to do this ({label}): {detail}; "
                "check that the key has access to the project"
            )
        elif status == 404:
            text = f"Neon could not find it ({label}): {detail}; it may have been deleted"
        elif status == 409:
            text = f"Neon refused because of a conflict ({label}): {detail}"
        elif status == 423:
            text = (
                f"Neon is busy with another operation on this project ({label}); "
                "try again in a moment"
            )
        elif status == 429:
            text = f"Neon is rate limiting this API key ({label}); wait a minute and try again"
        elif status >= 500:
            text = f"Neon had a problem on its side ({label}); try again in a few minutes"
        else:
            text = f"Neon rejected the request ({label}): {detail}"
        if self.request_id:
            text += f". request id: {self.request_id}"
        return text

    def __repr__(self) -> str:
        return (
            f"NeonApiError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class NeonTransportError(NeonError):
    """No usable answer from Neon: the connection failed or timed out."""

    def __init__(self, sentence: str, *, method: str = "", path: str = "", kind: str = "") -> None:
        self.method = method
        self.path = path
        self.kind = kind
        super().__init__(sentence)


class NeonTimeoutError(NeonTransportError):
    """Neon did not answer within the configured timeout."""


class NeonProtocolError(NeonError):
    """Neon answered with a body this client cannot use (missing required fields)."""


class NeonOperationError(NeonError):
    """A Neon operation failed, or did not finish in the time we were willing to wait."""

    def __init__(self, sentence: str, operation: Operation | None = None) -> None:
        self.operation = operation
        super().__init__(sentence)


class _CreateResolved(Exception):
    """Internal: the branch a create asked for was found; stop retrying the create."""


# --------------------------------------------------------------------------------------------
# Tolerant parsing helpers


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value != "" else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    return data.get(key) is True


def _dt(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _required(data: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping) or not isinstance(value.get("id", ""), str):
        raise NeonProtocolError(f"Neon answered without the expected {what}; try again later.")
    return value


def _rfc3339(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact_uri(uri: str) -> str:
    """Return a Postgres URI with its password replaced by ***."""
    return _URI_PASSWORD.sub(r"\g<head>***@", uri)


def _with_host(uri: str, host: str) -> str:
    parts = urlsplit(uri)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    port = ""
    if ":" in hostport and not hostport.endswith("]"):
        port = ":" + hostport.rsplit(":", 1)[1]
    netloc = (userinfo + "@" if userinfo else "") + host + port
    return urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Branch:
    """A Neon branch; current_state keeps unknown values as the raw string."""

    id: str
    project_id: str
    name: str
    current_state: str
    pending_state: str | None = None
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: datetime | None = None
    default: bool = False
    protected: bool = False
    init_source: str | None = None
    logical_size: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    last_reset_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Branch:
        return cls(
            id=_str(data, "id"),
            project_id=_str(data, "project_id"),
            name=_str(data, "name"),
            current_state=_str(data, "current_state", "unknown"),
            pending_state=_opt_str(data, "pending_state"),
            parent_id=_opt_str(data, "parent_id"),
            parent_lsn=_opt_str(data, "parent_lsn"),
            parent_timestamp=_dt(data, "parent_timestamp"),
            default=_bool(data, "default"),
            protected=_bool(data, "protected"),
            init_source=_opt_str(data, "init_source"),
            logical_size=_int(data, "logical_size"),
            created_at=_dt(data, "created_at"),
            updated_at=_dt(data, "updated_at"),
            expires_at=_dt(data, "expires_at"),
            last_reset_at=_dt(data, "last_reset_at"),
        )

    @property
    def is_ready(self) -> bool:
        """True when the branch can be queried and nothing is pending on it."""
        return self.current_state == "ready" and self.pending_state is None

    @property
    def has_known_state(self) -> bool:
        return self.current_state in BRANCH_STATES


@dataclass(frozen=True)
class Endpoint:
    """A compute endpoint of a branch."""

    id: str
    branch_id: str
    project_id: str
    host: str
    type: str
    current_state: str
    pending_state: str | None = None
    region_id: str | None = None
    pooler_enabled: bool = False
    disabled: bool = False
    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Endpoint:
        return cls(
            id=_str(data, "id"),
            branch_id=_str(data, "branch_id"),
            project_id=_str(data, "project_id"),
            host=_str(data, "host"),
            type=_str(data, "type", "unknown"),
            current_state=_str(data, "current_state", "unknown"),
            pending_state=_opt_str(data, "pending_state"),
            region_id=_opt_str(data, "region_id"),
            pooler_enabled=_bool(data, "pooler_enabled"),
            disabled=_bool(data, "disabled"),
            autoscaling_limit_min_cu=_float(data, "autoscaling_limit_min_cu"),
            autoscaling_limit_max_cu=_float(data, "autoscaling_limit_max_cu"),
            created_at=_dt(data, "created_at"),
        )

    @property
    def is_read_write(self) -> bool:
        return self.type == "read_write"


@dataclass(frozen=True)
class Operation:
    """A Neon operation; status keeps unknown values as the raw string."""

    id: str
    project_id: str
    action: str
    status: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    error: str | None = None
    failures_count: int = 0
    total_duration_ms: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Operation:
        return cls(
            id=_str(data, "id"),
            project_id=_str(data, "project_id"),
            action=_str(data, "action", "unknown"),
            status=_str(data, "status", "unknown"),
            branch_id=_opt_str(data, "branch_id"),
            endpoint_id=_opt_str(data, "endpoint_id"),
            error=_opt_str(data, "error"),
            failures_count=_int(data, "failures_count") or 0,
            total_duration_ms=_int(data, "total_duration_ms"),
            created_at=_dt(data, "created_at"),
            updated_at=_dt(data, "updated_at"),
        )

    @property
    def is_finished(self) -> bool:
        return self.status in OPERATION_STATUSES_DONE

    @property
    def is_failed(self) -> bool:
        return self.status in OPERATION_STATUSES_FAILED

    @property
    def is_terminal(self) -> bool:
        return self.is_finished or self.is_failed

    @property
    def has_known_status(self) -> bool:
        return self.status in OPERATION_STATUSES


@dataclass(frozen=True)
class ConnectionUri:
    """A Postgres connection URI; str() and repr() never show the password."""

    host: str
    database: str
    role: str
    pooled: bool
    uri: str = field(repr=False)

    @classmethod
    def from_uri(cls, uri: str, *, pooled: bool) -> ConnectionUri:
        parts = urlsplit(uri)
        return cls(
            host=parts.hostname or "",
            database=parts.path.lstrip("/"),
            role=parts.username or "",
            pooled=pooled,
            uri=uri,
        )

    @property
    def redacted(self) -> str:
        return redact_uri(self.uri)

    def __str__(self) -> str:
        return self.redacted


@dataclass(frozen=True)
class Database:
    id: int | None
    branch_id: str
    name: str
    owner_name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Database:
        return cls(
            id=_int(data, "id"),
            branch_id=_str(data, "branch_id"),
            name=_str(data, "name"),
            owner_name=_str(data, "owner_name"),
        )


@dataclass(frozen=True)
class Role:
    """A Postgres role of a branch (its password is deliberately not kept)."""

    branch_id: str
    name: str
    protected: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Role:
        return cls(
            branch_id=_str(data, "branch_id"),
            name=_str(data, "name"),
            protected=_bool(data, "protected"),
        )


@dataclass(frozen=True)
class CreateResult:
    """What branch_create returns.

    reconciled is True when the create's answer was lost (timeout, 5xx) and the branch was
    found by name instead: operations and connection_uris are then empty; poll branch_get
    until the branch is ready and ask connection_uri() for a URI.
    """

    branch: Branch
    endpoints: tuple[Endpoint, ...] = ()
    operations: tuple[Operation, ...] = ()
    connection_uris: tuple[ConnectionUri, ...] = ()
    databases: tuple[Database, ...] = ()
    roles: tuple[Role, ...] = ()
    reconciled: bool = False

    def connection_uri_for(self, *, pooled: bool) -> ConnectionUri | None:
        """Return the first pooled (or direct) connection URI from the create answer."""
        return next((c for c in self.connection_uris if c.pooled == pooled), None)


@dataclass(frozen=True)
class BranchOperations:
    """A branch and the operations a change to it started (restore)."""

    branch: Branch
    operations: tuple[Operation, ...] = ()


@dataclass(frozen=True)
class DeleteResult:
    """What branch_delete returns; already_gone is True when there was nothing to delete."""

    branch_id: str
    already_gone: bool
    operations: tuple[Operation, ...] = ()


# --------------------------------------------------------------------------------------------
# The client


class NeonClient:
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
        finds out whether Neon created the branch before sending the create again.
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

        found: list[Branch] = []

        def reconcile() -> bool:
            existing = self.branch_find_by_name(name)
            if existing is None:
                logger.info("Neon branch %r was not created by the failed attempt; retrying", name)
                return True
            logger.info("Neon branch %r exists after an ambiguous failure: %s", name, existing.id)
            found.append(existing)
            return False

        try:
            response = self._send(
                "POST", self._project_path("branches"), json_body=body, reconcile=reconcile
            )
        except _CreateResolved:
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

    def branch_delete(self, branch_id: str) -> DeleteResult:
        """Delete a branch; a branch that is already gone (204 or 404) counts as success."""
        try:
            response = self._send("DELETE", self._branch_path(branch_id))
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
        """Reset a branch to the current head of its parent and return the started operations."""
        if parent_id is None:
            parent_id = self.branch_get(branch_id).parent_id
            if parent_id is None:
                raise NeonError(
                    f"Branch {branch_id} has no parent branch on Neon, so it cannot be reset "
                    "from its parent."
                )
        body: dict[str, Any] = {"source_branch_id": parent_id}
        if preserve_under_name:
            body["preserve_under_name"] = preserve_under_name
        data = self._json("POST", self._branch_path(branch_id, "restore"), json_body=body)
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

    def databases_list(self, branch_id: str) -> tuple[Database, ...]:
        """Return the databases of a branch."""
        data = self._json("GET", self._branch_path(branch_id, "databases"))
        return tuple(Database.from_api(d) for d in _items(data, "databases"))

    def roles_list(self, branch_id: str) -> tuple[Role, ...]:
        """Return the Postgres roles of a branch (without passwords)."""
        data = self._json("GET", self._branch_path(branch_id, "roles"))
        return tuple(Role.from_api(r) for r in _items(data, "roles"))

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

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Mapping[str, Any]:
        return self._decode(self._send(method, path, params=params, json_body=json_body))

    def _decode(self, response: httpx.Response) -> Mapping[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            raise NeonProtocolError(
                f"Neon answered {response.status_code} without a JSON object; try again later."
            )
        return data

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        reconcile: Callable[[], bool] | None = None,
    ) -> httpx.Response:
        """Send one request with bounded retries; return the first non-error response.

        reconcile, when given, runs after an ambiguous failure (timeout, 5xx) before the request
        is sent again or a failure is reported: True means "not carried out", False means the
        request's effect was found, and _CreateResolved is raised.
        """
        ambiguous_seen = False
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            # After an ambiguous failure (and the wait), look before sending the request again.
            if attempt > 1 and ambiguous_seen and reconcile is not None and not reconcile():
                raise _CreateResolved
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            error: NeonError
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json_body,
                    headers={"X-Request-ID": request_id},
                )
            except httpx.RequestError as exc:
                error = self._transport_error(exc, method, path)
                outcome, delay, retryable = type(exc).__name__, self._backoff(attempt), True
                ambiguous_seen = ambiguous_seen or _is_ambiguous(exc)
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                request_id = response.headers.get("x-request-id") or request_id
                if response.status_code < 400:
                    logger.log(
                        logging.DEBUG if method == "GET" else logging.INFO,
                        "Neon %s %s -> %d (request_id=%s, %.0f ms)",
                        method,
                        path,
                        response.status_code,
                        request_id,
                        elapsed_ms,
                    )
                    return response
                error = self._api_error(response, method, path, request_id)
                outcome, retryable = error.label, error.status in RETRY_STATUSES
                delay = self._backoff(attempt) if error.retry_after is None else error.retry_after
                ambiguous_seen = ambiguous_seen or error.status >= 500

            if not retryable or attempt >= attempts:
                # Before reporting a failure that follows an ambiguous one, look once more: the
                # request may have been carried out (a 409 then is most likely our own attempt).
                if ambiguous_seen and reconcile is not None and not reconcile():
                    raise _CreateResolved
                logger.warning(
                    "Neon %s %s -> %s (request_id=%s)%s",
                    method,
                    path,
                    outcome,
                    request_id,
                    f"; giving up after {attempt} attempts" if retryable else "",
                )
                raise error from None
            logger.warning(
                "Neon %s %s -> %s (request_id=%s); retrying in %.2fs (attempt %d of %d)",
                method,
                path,
                outcome,
                request_id,
                delay,
                attempt,
                attempts,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt n (1-based): "equal jitter" backoff.

        Between half and all of base * 2**(n-1), so waits grow while staying spread out.
        """
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _scrub(self, text: str) -> str:
        text = redact_uri(text).replace(self._api_key, "***")
        return text if len(text) <= 500 else text[:497] + "..."

    def _api_error(
        self, response: httpx.Response, method: str, path: str, request_id: str
    ) -> NeonApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, Mapping) else {}
        message = _str(body, "message") or response.reason_phrase or "no details"
        return NeonApiError(
            status=response.status_code,
            code=self._scrub(_str(body, "code")),
            message=self._scrub(message),
            request_id=_opt_str(body, "request_id") or request_id,
            method=method,
            path=path,
            retry_after=self._retry_after(response),
        )

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if value is None:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return min(max(seconds, 0.0), self._retry_after_max)

    def _transport_error(
        self, exc: httpx.RequestError, method: str, path: str
    ) -> NeonTransportError:
        where = f"{method} {path}"
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return NeonTimeoutError(
                f"Could not connect to Neon within {self.timeout.connect:g} seconds ({where}); "
                "check the network and try again.",
                method=method,
                path=path,
                kind="connect_timeout",
            )
        if isinstance(exc, httpx.TimeoutException):
            return NeonTimeoutError(
                f"Neon did not answer within {self.timeout.read:g} seconds ({where}); "
                "it may be slow or busy, try again in a moment.",
                method=method,
                path=path,
                kind="read_timeout",
            )
        if isinstance(exc, httpx.ConnectError):
            return NeonTransportError(
                f"Could not connect to Neon at {urlsplit(self.base_url).hostname} ({where}); "
                "check the network and try again.",
                method=method,
                path=path,
                kind="connect",
            )
        return NeonTransportError(
            f"The connection to Neon broke during {where}; try again in a moment.",
            method=method,
            path=path,
            kind="protocol",
        )


def _is_ambiguous(exc: httpx.RequestError) -> bool:
    """True when the request may have reached Neon (it was sent, the answer was lost)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _connection_uris(details: Iterable[Mapping[str, Any]]) -> Iterable[ConnectionUri]:
    for item in details:
        uri = item.get("connection_uri")
        if not isinstance(uri, str) or not uri:
            continue
        yield ConnectionUri.from_uri(uri, pooled=False)
        params = item.get("connection_parameters")
        pooler_host = _opt_str(params, "pooler_host") if isinstance(params, Mapping) else None
        if pooler_host:
            yield ConnectionUri.from_uri(_with_host(uri, pooler_host), pooled=True)
