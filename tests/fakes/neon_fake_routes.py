"""Request routing of the fake Neon server: the served routes and one handler per operation."""

from __future__ import annotations

import base64
import difflib
import secrets
from typing import Any

from tests.fakes.neon_fake_models import DOMAIN, _ApiError, _new_id

# The operations of the spec this fake serves (method, path template).
ROUTES = [
    ("GET", "/projects/{project_id}"),
    ("GET", "/projects/{project_id}/branches"),
    ("POST", "/projects/{project_id}/branches"),
    ("GET", "/projects/{project_id}/branches/{branch_id}"),
    ("DELETE", "/projects/{project_id}/branches/{branch_id}"),
    ("POST", "/projects/{project_id}/branches/{branch_id}/restore"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/compare_schema"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/endpoints"),
    ("GET", "/projects/{project_id}/endpoints"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/databases"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles"),
    ("POST", "/projects/{project_id}/branches/{branch_id}/roles"),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password"),
    ("GET", "/projects/{project_id}/operations/{operation_id}"),
    ("GET", "/projects/{project_id}/connection_uri"),
]


class _NeonRoutes:
    """FakeNeon's router and the handlers of the branch operations it serves."""

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2 or segments[0] != "projects":
            raise _ApiError(404, "not found")
        if segments[1] != self.project_id:
            raise _ApiError(404, f"project {segments[1]} not found")
        rest = segments[2:]
        match (method, rest):
            case ("GET", []):
                return 200, {"project": self._project_json()}
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
            case ("GET", ["endpoints"]):
                endpoints = list(self._endpoints.values())
                return 200, {"endpoints": [self._endpoint_json(e) for e in endpoints]}
            case ("GET", ["branches", branch_id, "databases"]):
                return 200, {"databases": list(self._branch(branch_id).databases)}
            case ("GET", ["branches", branch_id, "roles"]):
                return 200, {"roles": self._roles_json(self._branch(branch_id), passwords=False)}
            case ("POST", ["branches", branch_id, "roles"]):
                return 201, self._role_create(branch_id, body)
            case ("GET", ["branches", branch_id, "roles", role_name, "reveal_password"]):
                branch = self._branch(branch_id)
                if role_name not in branch.roles:
                    raise _ApiError(404, f"role {role_name} not found")
                return 200, {"password": branch.roles[role_name]}
            case ("GET", ["operations", operation_id]):
                op = self._operations.get(operation_id)
                if op is None:
                    raise _ApiError(404, f"operation {operation_id} not found")
                return 200, {"operation": self._operation_json(op)}
            case ("GET", ["connection_uri"]):
                return 200, self._connection_uri(query)
        raise _ApiError(404, f"no route for {method} {path}")

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
        branch.restores += 1
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

    def _role_create(self, branch_id: str, body: Any) -> dict[str, Any]:
        """Create a role on this branch only, with a password of its own (like Neon)."""
        branch = self._branch(branch_id)
        spec = body.get("role") if isinstance(body, dict) else None
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name or len(name.encode()) > 63:
            raise _ApiError(400, "role.name must be a string of 1 to 63 bytes")
        if name in branch.roles:
            raise _ApiError(409, f"role {name} already exists")
        self._check_unlocked()
        branch.roles[name] = secrets.token_urlsafe(12)
        op_ids = [
            self._make_operation(branch.id, "apply_config", e.id)
            for e in self._endpoints.values()
            if e.branch_id == branch.id
        ]
        role = next(r for r in self._roles_json(branch, passwords=True) if r["name"] == name)
        return {
            "role": role,
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
