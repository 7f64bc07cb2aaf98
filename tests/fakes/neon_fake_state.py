"""In-memory state of the fake Neon server: clock, resource creation and their JSON shapes."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.neon_fake_models import (
    _ERROR_MESSAGES,
    DOMAIN,
    REGION,
    _ApiError,
    _Branch,
    _Endpoint,
    _iso,
    _new_id,
    _Operation,
)


class _NeonState:
    """FakeNeon's branches, endpoints and operations (the attributes FakeNeon.__init__ sets)."""

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
        if self.data_url and not branch.default:
            return self.data_url  # serve_data_from(): a real database stands in for the branch
        host = f"{endpoint.id}-pooler.{DOMAIN}" if pooled else f"{endpoint.id}.{DOMAIN}"
        return f"postgresql://{role}:{branch.roles[role]}@{host}/{db}?sslmode=require"

    def _project_json(self) -> dict[str, Any]:
        created = self._branches[self.default_branch_id].created_at
        return {
            "id": self.project_id,
            "platform_id": "aws",
            "region_id": REGION,
            "name": self.project_id,
            "provisioner": "k8s-neonvm",
            "pg_version": 16,
            "proxy_host": DOMAIN,
            "branch_logical_size_limit": 0,
            "branch_logical_size_limit_bytes": 0,
            "store_passwords": True,
            "cpu_used_sec": 0,
            "creation_source": "console",
            "history_retention_seconds": self.history_retention_seconds,
            "created_at": _iso(created),
            "updated_at": _iso(created),
            "owner_id": "fake-owner",
            "consumption_period_start": _iso(created),
            "consumption_period_end": _iso(created + timedelta(days=30)),
            "active_time_seconds": 0,
            "compute_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "data_storage_bytes_hour": 0,
        }

    def _read_write_endpoint(self, branch_id: str) -> _Endpoint | None:
        return next(
            (
                e
                for e in self._endpoints.values()
                if e.branch_id == branch_id and e.type == "read_write"
            ),
            None,
        )
