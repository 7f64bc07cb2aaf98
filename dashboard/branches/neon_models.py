"""The Neon client's typed results (branches, endpoints, operations, URIs) and known enums."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dashboard.branches.neon_parsing import (
    _bool,
    _dt,
    _float,
    _int,
    _opt_str,
    _str,
    _with_host,
    redact_uri,
)

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
