"""A stateful fake of the Neon API v2 (branch parts), served over real HTTP on 127.0.0.1.

Shapes follow Neon's OpenAPI v2 description (the subset in neon_api_v2_subset.json);
tests/fakes/test_neon_server_contract.py validates every kind of answer against it. Use it as
a context manager:

    with FakeNeon() as fake:
        client = NeonClient(fake.api_key, fake.project_id, base_url=fake.base_url)

Test controls: fail_next() / delay_next() inject failures and slow answers, serve_data_from()
points branches' connection URIs at a real database, advance() moves the
fake's clock (operations go scheduling -> running -> finished over operation_duration seconds),
finish_operations() / fail_operations() settle them at once, unknown_enum_mode() reports enum
values the spec does not list, and `requests` records what the server received.
"""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import ThreadingHTTPServer

from tests.fakes.neon_fake_failures import _FailureInjection
from tests.fakes.neon_fake_http import _HttpServing
from tests.fakes.neon_fake_models import (  # re-exported
    API_PREFIX,
    DEFAULT_API_KEY,
    DEFAULT_PROJECT_ID,
    DOMAIN,
    REGION,
    RecordedRequest,
    _Branch,
    _DelayRule,
    _Endpoint,
    _FailureRule,
    _Operation,
)
from tests.fakes.neon_fake_routes import ROUTES, _NeonRoutes  # re-exported
from tests.fakes.neon_fake_state import _NeonState

__all__ = [
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "DEFAULT_PROJECT_ID",
    "DOMAIN",
    "REGION",
    "ROUTES",
    "FakeNeon",
    "RecordedRequest",
]


class FakeNeon(_HttpServing, _FailureInjection, _NeonRoutes, _NeonState):
    """An in-memory Neon project behind a real HTTP server on 127.0.0.1."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        operation_duration: float = 0.0,
        unique_branch_names: bool = True,
        delete_missing_status: int = 204,
        history_retention_seconds: int = 86400,
    ) -> None:
        self.api_key = api_key
        self.project_id = project_id
        self.operation_duration = operation_duration
        self.unique_branch_names = unique_branch_names
        # The spec answers 204 for a branch that is already gone; some Neon versions said 404.
        self.delete_missing_status = delete_missing_status
        self.history_retention_seconds = history_retention_seconds
        # serve_data_from(): the connection URI of every branch but the default one.
        self.data_url: str | None = None
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

    # ---- test controls -----------------------------------------------------------------------

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
        self,
        name: str,
        *,
        parent_id: str | None = None,
        with_endpoint: bool = False,
        created_at: datetime | None = None,
    ) -> str:
        """Add a ready branch directly (no operations, no lock); return its id."""
        with self._lock:
            parent = self._branches[parent_id or self.default_branch_id]
            branch = self._make_branch(name, parent, schema_only=False)
            if created_at is not None:
                branch.created_at = created_at
            if with_endpoint:
                self._make_endpoint(branch.id, "read_write")
            return branch.id

    def add_database(self, branch_id: str, name: str, owner: str = "neondb_owner") -> None:
        """Give a branch another database (branches made from it later copy it)."""
        with self._lock:
            branch = self._branches[branch_id]
            branch.databases.append(self._database_json(branch.id, name, owner, self._wall()))

    def endpoint_host(self, branch_id: str) -> str:
        """Return the host of the branch's first compute (as the API shows it)."""
        with self._lock:
            endpoint = next(e for e in self._endpoints.values() if e.branch_id == branch_id)
            return str(self._endpoint_json(endpoint)["host"])

    def serve_data_from(self, url: str | None) -> None:
        """Answer connection URIs of every branch but the default one with `url`, a real
        database standing in for the branches' data (None: the fake's own unreachable hosts)."""
        with self._lock:
            self.data_url = url

    def set_schema(self, branch_id: str, schema_sql: str, db_name: str = "neondb") -> None:
        """Set the schema text compare_schema diffs for a database of a branch."""
        with self._lock:
            self._branches[branch_id].schemas[db_name] = schema_sql

    def branch_ids_named(self, name: str) -> list[str]:
        with self._lock:
            return [b.id for b in self._branches.values() if b.name == name]

    def restores_carried_out(self, branch_id: str) -> int:
        """How many restores the fake carried out on this branch."""
        with self._lock:
            return self._branches[branch_id].restores

    def has_branch(self, branch_id: str) -> bool:
        with self._lock:
            return branch_id in self._branches

    def role_password(self, branch_id: str, role_name: str = "neondb_owner") -> str:
        with self._lock:
            return self._branches[branch_id].roles[role_name]

    def set_role(self, branch_id: str, role_name: str, password: str) -> None:
        """Give a branch a role directly (as if made in the Neon console)."""
        with self._lock:
            self._branches[branch_id].roles[role_name] = password

    def role_names(self, branch_id: str) -> list[str]:
        with self._lock:
            return sorted(self._branches[branch_id].roles)

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
