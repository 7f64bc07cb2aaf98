"""A stateful fake of the Neon API v2 (branch parts), served over real HTTP on 127.0.0.1.

Shapes follow shared/reference/neon-api-v2.openapi.json; tests/fakes/test_neon_server_contract.py
validates every kind of answer against it. Use it as a context manager:

    with FakeNeon() as fake:
        client = NeonClient(fake.api_key, fake.project_id, base_url=fake.base_url)

Test controls: fail_next() / delay_next() inject failures and slow answers, advance() moves the
fake's clock (operations go scheduling -> running -> finished over operation_duration seconds),
finish_operations() / fail_operations() settle them at once, unknown_enum_mode() reports enum
values the spec does not list, and `requests` records what the server received.
"""

from __future__ import annotations

import base64
import difflib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/api/v2"
DEFAULT_API_KEY = "fake-neon-key-0123456789abcdef"
DEFAULT_PROJECT_ID = "fake-project-123456"
REGION = "aws-us-east-2"
DOMAIN = "us-east-2.aws.neon.tech"

# The operations of the spec this fake serves (method, path template).
ROUTES = [
    ("GET", "/projects/{project_id}/branches"),
    ("POST", "/projects/{project_id}/branches"),
    ("GET", "/projects/{project_id}/branches/{branch_id}"),
    ("DELETE", "/projects/{project_id}/branches/{branch_id}"),
    ("POST", "/projects/{project_id}/branches/{branch_id}/restore"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/compare_schema"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/endpoints"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/databases"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles"),
    ("GET", "/projects/{project_id}/operations/{operation_id}"),
    ("GET", "/projects/{project_id}/connection_uri"),
]

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


class FakeNeon:
    """An in-memory Neon project behind a real HTTP server on 127.0.0.1."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        operation_duration: float = 0.0,
        unique_branch_names: bool = True,
        delete_missing_status: int = 204,
    ) -> None:
        self.api_key = api_key
        self.project_id = project_id
        self.operation_duration = operation_duration
        self.unique_branch_names = unique_branch_names
        # The spec answers 204 for a branch that is already gone; some Neon versions said 404.
        self.delete_missing_status = delete_missing_status
        self.requests: list[RecordedRequest] = []
        self.branch_state_override: str | None = None
        self.operation_status_override: str | None = None
        self.endpoint_state_override: str | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._clock_offset = 0.0
        self._seq = 0
        self._failures: list[_FailureRule] = []
        self._delays: list[_DelayRule] = []
        self._branches: dict[str, _Branch] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._operations: dict[str, _Operation] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seed()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving on an OS-chosen port; return the API base URL."""
        if self._server is not None:
            return self.base_url
        handler = type("FakeNeonHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-neon", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop the server (slow answers in progress are cut short)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeNeon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeNeon is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    # ---- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with this error status and an error body.

        after_processing=True carries the request out first and then answers with the error,
        like a gateway that loses the answer (an ambiguous failure).
        """
        with self._lock:
            self._failures.append(
                _FailureRule(
                    status, times, retry_after, code, message, method, path_contains,
                    after_processing,
                )
            )  # fmt: skip

    def delay_next(
        self,
        seconds: float,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Carry out the next `times` matching requests, then wait `seconds` before answering."""
        with self._lock:
            self._delays.append(_DelayRule(seconds, times, method, path_contains))

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (operations progress with it)."""
        with self._lock:
            self._clock_offset += seconds

    def finish_operations(self) -> None:
        """Finish every unfinished operation now."""
        with self._lock:
            now = self._now()
            for op in self._operations.values():
                if op.forced_status is None and op.status(now) != "finished":
                    op.duration = 0.0
                    op.started = now

    def fail_operations(self, error: str = "storage is unavailable") -> None:
        """Mark every unfinished operation as failed."""
        with self._lock:
            now = self._now()
            for op in self._operations.values():
                if op.forced_status is None and op.status(now) != "finished":
                    op.forced_status = "failed"
                    op.error = error

    def unknown_enum_mode(
        self,
        *,
        branch_state: str | None = "hibernating",
        operation_status: str | None = "paused",
        endpoint_state: str | None = None,
    ) -> None:
        """Report states the spec does not list (None reports the real value again)."""
        with self._lock:
            self.branch_state_override = branch_state
            self.operation_status_override = operation_status
            self.endpoint_state_override = endpoint_state

    def add_branch(
        self, name: str, *, parent_id: str | None = None, with_endpoint: bool = False
    ) -> str:
        """Add a ready branch directly (no operations, no lock); return its id."""
        with self._lock:
            parent = self._branches[parent_id or self.default_branch_id]
            branch = self._make_branch(name, parent, schema_only=False)
            if with_endpoint:
                self._make_endpoint(branch.id, "read_write")
            return branch.id

    def set_schema(self, branch_id: str, schema_sql: str, db_name: str = "neondb") -> None:
        """Set the schema text compare_schema diffs for a database of a branch."""
        with self._lock:
            self._branches[branch_id].schemas[db_name] = schema_sql

    def branch_ids_named(self, name: str) -> list[str]:
        with self._lock:
            return [b.id for b in self._branches.values() if b.name == name]

    def has_branch(self, branch_id: str) -> bool:
        with self._lock:
            return branch_id in self._branches

    def role_password(self, branch_id: str, role_name: str = "neondb_owner") -> str:
        with self._lock:
            return self._branches[branch_id].roles[role_name]

    def operation_status(self, operation_id: str) -> str:
        with self._lock:
            return self._operations[operation_id].status(self._now())

    def requests_to(self, method: str, path_suffix: str = "") -> list[RecordedRequest]:
        """Recorded requests with this method whose path ends with path_suffix."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    @property
    def default_branch_id(self) -> str:
        with self._lock:
            return next(b.id for b in self._branches.values() if b.default)

    # ---- request handling (called by the handler thread) -------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Return (status, JSON body or None, extra headers) for one request."""
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix(API_PREFIX)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        authorized = headers.get("authorization") == f"Bearer {self.api_key}"
        body: Any = None
        body_ok = True
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_ok = False
        extra = {"X-Request-Id": request_id}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, request_id, authorized))
            if not authorized:
                return 401, self._error_body(401, "authorization failed", request_id), extra
            failure = self._take_failure(method, path)
            rejected_early = failure is not None and not failure.after_processing
            delay = None if rejected_early else self._take_delay(method, path)
        if failure is not None and not failure.after_processing:
            return self._failure_answer(failure, request_id, extra)
        if not body_ok:
            return 400, self._error_body(400, "request body is not valid JSON", request_id), extra
        try:
            with self._lock:
                status, payload = self._route(method, path, query, body)
        except _ApiError as exc:
            status = exc.status
            payload = self._error_body(exc.status, exc.message, request_id, exc.code)
        if delay is not None:
            self._stopping.wait(delay.seconds)
        if failure is not None:
            return self._failure_answer(failure, request_id, extra)
        return status, payload, extra

    def _failure_answer(
        self, failure: _FailureRule, request_id: str, extra: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        headers = dict(extra)
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        message = failure.message or _ERROR_MESSAGES.get(failure.status, "injected failure")
        body = self._error_body(failure.status, message, request_id, failure.code)
        return failure.status, body, headers

    def _take_failure(self, method: str, path: str) -> _FailureRule | None:
        for rule in self._failures:
            if _matches(rule.method, rule.path_contains, method, path):
                rule.times -= 1
                if rule.times <= 0:
                    self._failures.remove(rule)
                return rule
        return None

    def _take_delay(self, method: str, path: str) -> _DelayRule | None:
        for rule in self._delays:
            if _matches(rule.method, rule.path_contains, method, path):
                rule.times -= 1
                if rule.times <= 0:
                    self._delays.remove(rule)
                return rule
        return None

    @staticmethod
    def _error_body(
        status: int, message: str, request_id: str, code: str | None = None
    ) -> dict[str, str]:
        return {
            "code": code if code is not None else _ERROR_CODES.get(status, "ERROR"),
            "message": message,
            "request_id": request_id,
        }

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2 or segments[0] != "projects":
            raise _ApiError(404, "not found")
        if segments[1] != self.project_id:
            raise _ApiError(404, f"project {segments[1]} not found")
        rest = segments[2:]
        match (method, rest):
            case ("GET", ["branches"]):
                return 200, self._branches_list(query)
            case ("POST", ["branches"]):
                return 201, self._branch_create(body)
            case ("GET", ["branches", branch_id]):
                return 200, self._branch_get(branch_id)
            case ("DELETE", ["branches", branch_id]):
                return self._branch_delete(branch_id)
            case ("POST", ["branches", branch_id, "restore"]):
                return 200, self._branch_restore(branch_id, body)
            case ("GET", ["branches", branch_id, "compare_schema"]):
                return 200, self._compare_schema(branch_id, query)
            case ("GET", ["branches", branch_id, "endpoints"]):
                self._branch(branch_id)
                endpoints = [e for e in self._endpoints.values() if e.branch_id == branch_id]
                return 200, {"endpoints": [self._endpoint_json(e) for e in endpoints]}
            case ("GET", ["branches", branch_id, "databases"]):
                return 200, {"databases": list(self._branch(branch_id).databases)}
            case ("GET", ["branches", branch_id, "roles"]):
                return 200, {"roles": self._roles_json(self._branch(branch_id), passwords=False)}
            case ("GET", ["operations", operation_id]):
                op = self._operations.get(operation_id)
                if op is None:
                    raise _ApiError(404, f"operation {operation_id} not found")
                return 200, {"operation": self._operation_json(op)}
            case ("GET", ["connection_uri"]):
                return 200, self._connection_uri(query)
        raise _ApiError(404, f"no route for {method} {path}")

    # ---- resources ----------------------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() + self._clock_offset

    def _wall(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._clock_offset)

    def _seed(self) -> None:
        now = self._wall()
        root = _Branch(
            id=_new_id("br"),
            name="main",
            parent_id=None,
            created_at=now,
            default=True,
            databases=[],
            roles={"neondb_owner": secrets.token_hex(8)},
            schemas={"neondb": "CREATE TABLE users (id bigint PRIMARY KEY);\n"},
        )
        root.databases = [self._database_json(root.id, "neondb", "neondb_owner", now)]
        self._add(root)
        self._make_endpoint(root.id, "read_write")

    def _add(self, branch: _Branch) -> None:
        self._seq += 1
        branch.seq = self._seq
        self._branches[branch.id] = branch

    @staticmethod
    def _database_json(branch_id: str, name: str, owner: str, at: datetime) -> dict[str, Any]:
        return {
            "id": secrets.randbelow(10**6),
            "branch_id": branch_id,
            "name": name,
            "owner_name": owner,
            "created_at": _iso(at),
            "updated_at": _iso(at),
        }

    def _branch(self, branch_id: str) -> _Branch:
        branch = self._branches.get(branch_id)
        if branch is None:
            raise _ApiError(404, f"branch {branch_id} not found")
        return branch

    def _make_branch(self, name: str, parent: _Branch, *, schema_only: bool) -> _Branch:
        now = self._wall()
        branch = _Branch(
            id=_new_id("br"),
            name=name,
            parent_id=None if schema_only else parent.id,
            parent_lsn=None if schema_only else f"0/{secrets.randbelow(2**28):X}",
            created_at=now,
            init_source="schema-only" if schema_only else "parent-data",
            roles=dict(parent.roles),
            schemas=dict(parent.schemas),
        )
        branch.databases = [
            self._database_json(branch.id, db["name"], db["owner_name"], now)
            for db in parent.databases
        ]
        self._add(branch)
        return branch

    def _make_endpoint(self, branch_id: str, endpoint_type: str) -> _Endpoint:
        endpoint = _Endpoint(_new_id("ep"), branch_id, endpoint_type, self._wall())
        self._endpoints[endpoint.id] = endpoint
        return endpoint

    def _make_operation(self, branch_id: str, action: str, endpoint_id: str | None = None) -> str:
        op = _Operation(
            id=str(uuid.uuid4()),
            branch_id=branch_id,
            endpoint_id=endpoint_id,
            action=action,
            started=self._now(),
            created_at=self._wall(),
            duration=self.operation_duration,
        )
        self._operations[op.id] = op
        return op.id

    def _unfinished(self, op_ids: list[str]) -> bool:
        now = self._now()
        return any(self._operations[i].status(now) in ("scheduling", "running") for i in op_ids)

    def _check_unlocked(self) -> None:
        if self._unfinished(list(self._operations)):
            raise _ApiError(423, _ERROR_MESSAGES[423])

    def _branch_state(self, branch: _Branch) -> tuple[str, str | None]:
        if self.branch_state_override is not None:
            return self.branch_state_override, None
        if self._unfinished(branch.state_ops):
            return branch.busy_state, "ready"
        return "ready", None

    def _branch_json(self, branch: _Branch) -> dict[str, Any]:
        current, pending = self._branch_state(branch)
        data: dict[str, Any] = {
            "id": branch.id,
            "project_id": self.project_id,
            "name": branch.name,
            "current_state": current,
            "state_changed_at": _iso(branch.last_reset_at or branch.created_at),
            "logical_size": 30 * 1024 * 1024,
            "creation_source": "console",
            "primary": branch.default,
            "default": branch.default,
            "protected": branch.protected,
            "cpu_used_sec": 0,
            "compute_time_seconds": 0,
            "active_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "created_at": _iso(branch.created_at),
            "updated_at": _iso(branch.last_reset_at or branch.created_at),
            "init_source": branch.init_source,
        }
        optional = {
            "pending_state": pending,
            "parent_id": branch.parent_id,
            "parent_lsn": branch.parent_lsn,
            "parent_timestamp": branch.parent_timestamp,
            "expires_at": branch.expires_at,
            "last_reset_at": _iso(branch.last_reset_at) if branch.last_reset_at else None,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data

    def _endpoint_json(self, endpoint: _Endpoint) -> dict[str, Any]:
        branch = self._branches.get(endpoint.branch_id)
        starting = (
            branch is not None
            and branch.busy_state == "init"
            and self._unfinished(branch.state_ops)
        )
        state = self.endpoint_state_override or ("init" if starting else "active")
        data: dict[str, Any] = {
            "host": f"{endpoint.id}.{DOMAIN}",
            "id": endpoint.id,
            "project_id": self.project_id,
            "branch_id": endpoint.branch_id,
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 1,
            "region_id": REGION,
            "type": endpoint.type,
            "current_state": state,
            "settings": {"pg_settings": {}},
            "pooler_enabled": False,
            "pooler_mode": "transaction",
            "disabled": False,
            "passwordless_access": True,
            "creation_source": "console",
            "created_at": _iso(endpoint.created_at),
            "updated_at": _iso(endpoint.created_at),
            "proxy_host": DOMAIN,
            "suspend_timeout_seconds": 0,
            "provisioner": "k8s-neonvm",
        }
        if state == "init":
            data["pending_state"] = "active"
        return data

    def _operation_json(self, op: _Operation) -> dict[str, Any]:
        now = self._now()
        status = op.status(now)
        elapsed = min(max(now - op.started, 0.0), op.duration)
        data: dict[str, Any] = {
            "id": op.id,
            "project_id": self.project_id,
            "branch_id": op.branch_id,
            "action": op.action,
            "status": self.operation_status_override or status,
            "failures_count": 1 if status == "failed" else 0,
            "created_at": _iso(op.created_at),
            "updated_at": _iso(op.created_at + timedelta(seconds=elapsed)),
            "total_duration_ms": int(elapsed * 1000),
        }
        if op.endpoint_id:
            data["endpoint_id"] = op.endpoint_id
        if op.error:
            data["error"] = op.error
        return data

    def _roles_json(self, branch: _Branch, *, passwords: bool) -> list[dict[str, Any]]:
        roles = []
        for name, password in branch.roles.items():
            role: dict[str, Any] = {
                "branch_id": branch.id,
                "name": name,
                "protected": False,
                "created_at": _iso(branch.created_at),
                "updated_at": _iso(branch.created_at),
            }
            if passwords:
                role["password"] = password
            roles.append(role)
        return roles

    def _uri(self, branch: _Branch, endpoint: _Endpoint, db: str, role: str, pooled: bool) -> str:
        host = f"{endpoint.id}-pooler.{DOMAIN}" if pooled else f"{endpoint.id}.{DOMAIN}"
        return f"postgresql://{role}:{branch.roles[role]}@{host}/{db}?sslmode=require"

    def _read_write_endpoint(self, branch_id: str) -> _Endpoint | None:
        return next(
            (
                e
                for e in self._endpoints.values()
                if e.branch_id == branch_id and e.type == "read_write"
            ),
            None,
        )

    # ---- handlers -----------------------------------------------------------------------------

    def _branches_list(self, query: dict[str, str]) -> dict[str, Any]:
        search = query.get("search", "").lower()
        branches = sorted(self._branches.values(), key=lambda b: b.seq, reverse=True)
        if search:
            branches = [b for b in branches if search in b.name.lower() or search in b.id]
        payload: dict[str, Any] = {"annotations": {}}
        if "limit" in query:
            try:
                limit = int(query["limit"])
                offset = int(base64.urlsafe_b64decode(query.get("cursor") or "MA==").decode())
            except ValueError as exc:
                raise _ApiError(400, "invalid limit or cursor") from exc
            if not 1 <= limit <= 10000:
                raise _ApiError(400, "limit must be between 1 and 10000")
            page = branches[offset : offset + limit]
            pagination: dict[str, str] = {"sort_by": "updated_at", "sort_order": "desc"}
            if len(page) == limit:
                pagination["next"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            branches = page
            payload["pagination"] = pagination
        payload["branches"] = [self._branch_json(b) for b in branches]
        return payload

    def _branch_get(self, branch_id: str) -> dict[str, Any]:
        branch = self._branch(branch_id)
        return {
            "branch": self._branch_json(branch),
            "annotation": {"object": {"type": "console/branch", "id": branch.id}, "value": {}},
        }

    def _branch_create(self, body: Any) -> dict[str, Any]:
        body = body if body is not None else {}
        if not isinstance(body, dict):
            raise _ApiError(400, "request body must be an object")
        spec = body.get("branch") or {}
        endpoints_spec = body.get("endpoints") or []
        if not isinstance(spec, dict) or not isinstance(endpoints_spec, list):
            raise _ApiError(400, "branch must be an object and endpoints a list")
        types = [e.get("type") if isinstance(e, dict) else None for e in endpoints_spec]
        if any(t not in ("read_write", "read_only") for t in types):
            raise _ApiError(400, "endpoint type must be read_write or read_only")
        if types.count("read_write") > 1:
            raise _ApiError(400, "a branch can have only one read_write endpoint")
        parent = self._branches.get(spec.get("parent_id") or self.default_branch_id)
        if parent is None:
            raise _ApiError(404, f"parent branch {spec.get('parent_id')} not found")
        name = spec.get("name") or _new_id("br")
        if not isinstance(name, str) or len(name) > 256:
            raise _ApiError(400, "name must be a string of at most 256 characters")
        if self.unique_branch_names and any(b.name == name for b in self._branches.values()):
            raise _ApiError(409, f"branch with name {name!r} already exists")
        self._check_unlocked()

        init_source = spec.get("init_source") or "parent-data"
        branch = self._make_branch(name, parent, schema_only=init_source == "schema-only")
        branch.parent_timestamp = spec.get("parent_timestamp")
        branch.expires_at = spec.get("expires_at")
        branch.protected = spec.get("protected") is True
        endpoints = [self._make_endpoint(branch.id, t) for t in types if t]
        op_ids = [self._make_operation(branch.id, "create_timeline")]
        op_ids += [self._make_operation(branch.id, "start_compute", e.id) for e in endpoints]
        branch.busy_state, branch.state_ops = "init", op_ids

        payload: dict[str, Any] = {
            "branch": self._branch_json(branch),
            "endpoints": [self._endpoint_json(e) for e in endpoints],
            "operations": [self._operation_json(self._operations[i]) for i in op_ids],
            "roles": self._roles_json(branch, passwords=True),
            "databases": list(branch.databases),
        }
        rw = self._read_write_endpoint(branch.id)
        # Like Neon: connection URIs only when there is a compute and one database and role.
        if rw is not None and len(branch.databases) == 1 and len(branch.roles) == 1:
            db, role = branch.databases[0]["name"], next(iter(branch.roles))
            payload["connection_uris"] = [
                {
                    "connection_uri": self._uri(branch, rw, db, role, pooled=False),
                    "connection_parameters": {
                        "database": db,
                        "password": branch.roles[role],
                        "role": role,
                        "host": f"{rw.id}.{DOMAIN}",
                        "pooler_host": f"{rw.id}-pooler.{DOMAIN}",
                    },
                }
            ]
        return payload

    def _branch_delete(self, branch_id: str) -> tuple[int, Any]:
        branch = self._branches.get(branch_id)
        if branch is None:
            if self.delete_missing_status == 204:
                return 204, None
            raise _ApiError(self.delete_missing_status, f"branch {branch_id} not found")
        if branch.default:
            raise _ApiError(400, "the default branch cannot be deleted")
        if any(b.parent_id == branch_id for b in self._branches.values()):
            raise _ApiError(400, "a branch with child branches cannot be deleted")
        self._check_unlocked()
        endpoints = [e for e in self._endpoints.values() if e.branch_id == branch_id]
        op_ids = [self._make_operation(branch_id, "suspend_compute", e.id) for e in endpoints]
        op_ids.append(self._make_operation(branch_id, "delete_timeline"))
        payload = {
            "branch": self._branch_json(branch),
            "operations": [self._operation_json(self._operations[i]) for i in op_ids],
        }
        del self._branches[branch_id]
        for endpoint in endpoints:
            del self._endpoints[endpoint.id]
        return 200, payload

    def _branch_restore(self, branch_id: str, body: Any) -> dict[str, Any]:
        branch = self._branch(branch_id)
        if not isinstance(body, dict) or not isinstance(body.get("source_branch_id"), str):
            raise _ApiError(400, "source_branch_id is required")
        source = self._branch(body["source_branch_id"])
        point_in_time = body.get("source_lsn") or body.get("source_timestamp")
        if source.id == branch.id and not point_in_time:
            raise _ApiError(400, "source_lsn or source_timestamp is required to restore in place")
        has_children = any(b.parent_id == branch_id for b in self._branches.values())
        preserve = body.get("preserve_under_name")
        if has_children and not preserve:
            raise _ApiError(400, "preserve_under_name is required for a branch with children")
        self._check_unlocked()
        if preserve:
            backup = self._make_branch(preserve, branch, schema_only=False)
            backup.parent_id = branch.parent_id
        branch.schemas = dict(source.schemas)
        branch.last_reset_at = self._wall()
        op_ids = [self._make_operation(branch.id, "create_timeline")]
        op_ids += [
            self._make_operation(branch.id, "apply_config", e.id)
            for e in self._endpoints.values()
            if e.branch_id == branch.id
        ]
        branch.busy_state, branch.state_ops = "resetting", op_ids
        return {
            "branch": self._branch_json(branch),
            "operations": [self._operation_json(self._operations[i]) for i in op_ids],
        }

    def _compare_schema(self, branch_id: str, query: dict[str, str]) -> dict[str, Any]:
        branch = self._branch(branch_id)
        db_name = query.get("db_name")
        if not db_name:
            raise _ApiError(400, "db_name is required")
        base_id = query.get("base_branch_id") or branch.parent_id
        if base_id is None:
            raise _ApiError(400, "base_branch_id is required for a branch without a parent")
        base = self._branch(base_id)
        if db_name not in branch.schemas and db_name not in base.schemas:
            raise _ApiError(404, f"database {db_name} not found")
        diff = difflib.unified_diff(
            base.schemas.get(db_name, "").splitlines(keepends=True),
            branch.schemas.get(db_name, "").splitlines(keepends=True),
            fromfile=f"{base.id}/{db_name}",
            tofile=f"{branch.id}/{db_name}",
        )
        return {"diff": "".join(diff)}

    def _connection_uri(self, query: dict[str, str]) -> dict[str, Any]:
        database, role = query.get("database_name"), query.get("role_name")
        if not database or not role:
            raise _ApiError(400, "database_name and role_name are required")
        branch = self._branch(query.get("branch_id") or self.default_branch_id)
        if query.get("endpoint_id"):
            endpoint = self._endpoints.get(query["endpoint_id"])
            if endpoint is None or endpoint.branch_id != branch.id:
                raise _ApiError(404, f"endpoint {query['endpoint_id']} not found")
        else:
            endpoint = self._read_write_endpoint(branch.id)
            if endpoint is None:
                raise _ApiError(404, f"branch {branch.id} has no read_write endpoint")
        if not any(db["name"] == database for db in branch.databases):
            raise _ApiError(404, f"database {database} not found")
        if role not in branch.roles:
            raise _ApiError(404, f"role {role} not found")
        pooled = query.get("pooled", "false").lower() == "true"
        return {"uri": self._uri(branch, endpoint, database, role, pooled)}


def _matches(rule_method: str | None, fragment: str | None, method: str, path: str) -> bool:
    return (rule_method is None or rule_method == method) and (fragment is None or fragment in path)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeNeon
    protocol_version = "HTTP/1.1"
    timeout = 10
    # One buffered write per answer and no Nagle delay: answers take microseconds, not 40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.fake.handle(self.command, self.path, headers, raw_body)
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to answer

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""
