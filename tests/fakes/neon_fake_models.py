"""In-memory records of the fake Neon server: constants, errors, branches, endpoints, operations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

API_PREFIX = "/api/v2"
DEFAULT_API_KEY = "fake-neon-key-0123456789abcdef"
DEFAULT_PROJECT_ID = "fake-project-123456"
REGION = "aws-us-east-2"
DOMAIN = "us-east-2.aws.neon.tech"

DROPPED = 0  # the status of an answer that is never sent: the connection is closed instead

_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    423: "LOCKED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_ERROR_MESSAGES = {
    423: "project already has running operations, scheduling of new ones is prohibited",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service temporarily unavailable",
    504: "gateway timeout",
}


class _ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else _ERROR_CODES.get(status, "ERROR")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (the Authorization header is not kept)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    request_id: str
    authorized: bool


@dataclass
class _FailureRule:
    status: int
    times: int
    retry_after: float | None
    code: str | None
    message: str | None
    method: str | None
    path_contains: str | None
    after_processing: bool


@dataclass
class _DelayRule:
    seconds: float
    times: int
    method: str | None
    path_contains: str | None


@dataclass
class _Operation:
    id: str
    branch_id: str
    endpoint_id: str | None
    action: str
    started: float
    created_at: datetime
    duration: float
    forced_status: str | None = None
    error: str | None = None

    def status(self, now: float) -> str:
        if self.forced_status is not None:
            return self.forced_status
        elapsed = now - self.started
        if elapsed >= self.duration:
            return "finished"
        if elapsed < self.duration * 0.25:
            return "scheduling"
        return "running"


@dataclass
class _Branch:
    id: str
    name: str
    parent_id: str | None
    created_at: datetime
    init_source: str = "parent-data"
    default: bool = False
    protected: bool = False
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    expires_at: str | None = None
    last_reset_at: datetime | None = None
    restores: int = 0
    busy_state: str = "init"  # what current_state reads while state_ops are unfinished
    state_ops: list[str] = field(default_factory=list)
    databases: list[dict[str, Any]] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # role name -> password
    schemas: dict[str, str] = field(default_factory=dict)  # database name -> schema SQL
    seq: int = 0


@dataclass
class _Endpoint:
    id: str
    branch_id: str
    type: str
    created_at: datetime


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str) -> str:
    return f"{prefix}-fake-{secrets.token_hex(4)}"
