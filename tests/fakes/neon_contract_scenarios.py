"""Contract scenarios: one request to the fake Neon server each, producing one kind of answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.fakes.neon_server import FakeNeon

# ---- scenarios: one request each, producing one kind of answer --------------------------------

PROJECT = "/projects/{project_id}"
BRANCHES = "/projects/{project_id}/branches"
BRANCH = "/projects/{project_id}/branches/{branch_id}"
OPERATION = "/projects/{project_id}/operations/{operation_id}"
CONNECTION_URI = "/projects/{project_id}/connection_uri"
ROLES = f"{BRANCH}/roles"
ROLE_PASSWORD = f"{BRANCH}/roles/{{role_name}}/reveal_password"

Run = Callable[[FakeNeon, httpx.Client], httpx.Response]


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    template: str
    status: int
    run: Run


def _p(fake: FakeNeon) -> str:
    return f"/projects/{fake.project_id}"


def _create(fake: FakeNeon, http: httpx.Client, body: Any = None, **kw: Any) -> httpx.Response:
    body = body if body is not None else {"branch": {"name": kw.get("name", "dev")}}
    return http.post(f"{_p(fake)}/branches", json=body)


def _created(fake: FakeNeon, http: httpx.Client, **kw: Any) -> dict[str, Any]:
    response = _create(
        fake,
        http,
        {"branch": {"name": kw.get("name", "dev")}, "endpoints": [{"type": "read_write"}]},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _op_at(seconds: float) -> Run:
    def run(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
        fake.operation_duration = 4.0
        op_id = _created(fake, http)["operations"][0]["id"]
        fake.advance(seconds)
        return http.get(f"{_p(fake)}/operations/{op_id}")

    return run


def _failed_op(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    fake.operation_duration = 4.0
    op_id = _created(fake, http)["operations"][0]["id"]
    fake.fail_operations("timeline creation failed")
    return http.get(f"{_p(fake)}/operations/{op_id}")


def _restore(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    branch_id = _created(fake, http)["branch"]["id"]
    body = {"source_branch_id": fake.default_branch_id}
    return http.post(f"{_p(fake)}/branches/{branch_id}/restore", json=body)


def _delete(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    return http.delete(f"{_p(fake)}/branches/{fake.add_branch('doomed', with_endpoint=True)}")


def _locked_create(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    fake.operation_duration = 60.0
    _created(fake, http, name="busy")
    return _create(fake, http, name="blocked")


def _locked_delete(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    branch_id = fake.add_branch("later")
    fake.operation_duration = 60.0
    _created(fake, http, name="busy")
    return http.delete(f"{_p(fake)}/branches/{branch_id}")


def _injected(status: int, retry_after: float | None = None) -> Run:
    def run(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
        fake.fail_next(status, retry_after=retry_after)
        return http.get(f"{_p(fake)}/branches")

    return run


def _uri(pooled: bool) -> Run:
    def run(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
        params = {
            "branch_id": fake.default_branch_id,
            "database_name": "neondb",
            "role_name": "neondb_owner",
            "pooled": str(pooled).lower(),
        }
        return http.get(f"{_p(fake)}/connection_uri", params=params)

    return run


def _new_branch_get(suffix: str) -> Run:
    """GET a branch (or a sub-resource) created a moment ago, its operations still running."""

    def run(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
        fake.operation_duration = 60.0
        branch_id = _created(fake, http)["branch"]["id"]
        return http.get(f"{_p(fake)}/branches/{branch_id}{suffix}")

    return run


def _role_create(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    branch_id = _created(fake, http)["branch"]["id"]
    return http.post(f"{_p(fake)}/branches/{branch_id}/roles", json={"role": {"name": "sd_dev"}})


def _role_password(role: str) -> Run:
    def run(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
        return http.get(
            f"{_p(fake)}/branches/{fake.default_branch_id}/roles/{role}/reveal_password"
        )

    return run


def _compare_schema(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    branch_id = fake.add_branch("changed")
    fake.set_schema(branch_id, "CREATE TABLE t ();\n")
    return http.get(f"{_p(fake)}/branches/{branch_id}/compare_schema", params={"db_name": "neondb"})


def _delete_gone_as_404(fake: FakeNeon, http: httpx.Client) -> httpx.Response:
    fake.delete_missing_status = 404
    return http.delete(f"{_p(fake)}/branches/br-gone-2")


def _get(suffix: Callable[[FakeNeon], str]) -> Run:
    return lambda fake, http: http.get(_p(fake) + suffix(fake))


SCENARIOS = [
    Scenario("project", "GET", PROJECT, 200, _get(lambda f: "")),
    Scenario("list", "GET", BRANCHES, 200, _get(lambda f: "/branches")),
    Scenario("list page", "GET", BRANCHES, 200, _get(lambda f: "/branches?limit=1")),
    Scenario("list search", "GET", BRANCHES, 200, _get(lambda f: "/branches?search=mai")),
    Scenario(
        "create with compute",
        "POST",
        BRANCHES,
        201,
        lambda f, h: _create(
            f, h, {"branch": {"name": "a"}, "endpoints": [{"type": "read_write"}]}
        ),
    ),
    Scenario("create bare", "POST", BRANCHES, 201, lambda f, h: _create(f, h)),
    Scenario("create no body", "POST", BRANCHES, 201, lambda f, h: h.post(f"{_p(f)}/branches")),
    Scenario(
        "create schema-only",
        "POST",
        BRANCHES,
        201,
        lambda f, h: _create(
            f,
            h,
            {
                "branch": {
                    "name": "s",
                    "init_source": "schema-only",
                    "expires_at": "2030-01-01T00:00:00Z",
                },
                "endpoints": [{"type": "read_write"}, {"type": "read_only"}],
            },
        ),
    ),
    Scenario("get ready", "GET", BRANCH, 200, _get(lambda f: f"/branches/{f.default_branch_id}")),
    Scenario("get initialising", "GET", BRANCH, 200, _new_branch_get("")),
    Scenario("delete", "DELETE", BRANCH, 200, _delete),
    Scenario(
        "delete gone", "DELETE", BRANCH, 204, lambda f, h: h.delete(f"{_p(f)}/branches/br-gone-1")
    ),
    Scenario("restore", "POST", f"{BRANCH}/restore", 200, _restore),
    Scenario("compare schema", "GET", f"{BRANCH}/compare_schema", 200, _compare_schema),
    Scenario(
        "endpoints active",
        "GET",
        f"{BRANCH}/endpoints",
        200,
        _get(lambda f: f"/branches/{f.default_branch_id}/endpoints"),
    ),
    Scenario(
        "endpoints starting", "GET", f"{BRANCH}/endpoints", 200, _new_branch_get("/endpoints")
    ),
    Scenario("project endpoints", "GET", f"{PROJECT}/endpoints", 200, _get(lambda f: "/endpoints")),
    Scenario(
        "databases",
        "GET",
        f"{BRANCH}/databases",
        200,
        _get(lambda f: f"/branches/{f.default_branch_id}/databases"),
    ),
    Scenario(
        "roles",
        "GET",
        f"{BRANCH}/roles",
        200,
        _get(lambda f: f"/branches/{f.default_branch_id}/roles"),
    ),
    Scenario("role create", "POST", ROLES, 201, _role_create),
    Scenario("role password", "GET", ROLE_PASSWORD, 200, _role_password("neondb_owner")),
    Scenario("404 role password", "GET", ROLE_PASSWORD, 404, _role_password("nobody")),
    Scenario(
        "409 role exists",
        "POST",
        ROLES,
        409,
        lambda f, h: h.post(
            f"{_p(f)}/branches/{f.default_branch_id}/roles", json={"role": {"name": "neondb_owner"}}
        ),
    ),
    Scenario("operation scheduling", "GET", OPERATION, 200, _op_at(0.0)),
    Scenario("operation running", "GET", OPERATION, 200, _op_at(2.0)),
    Scenario("operation finished", "GET", OPERATION, 200, _op_at(5.0)),
    Scenario("operation failed", "GET", OPERATION, 200, _failed_op),
    Scenario("uri direct", "GET", CONNECTION_URI, 200, _uri(pooled=False)),
    Scenario("uri pooled", "GET", CONNECTION_URI, 200, _uri(pooled=True)),
    # Errors: every one must be a GeneralError {code, message, request_id}.
    Scenario(
        "400 restore",
        "POST",
        f"{BRANCH}/restore",
        400,
        lambda f, h: h.post(
            f"{_p(f)}/branches/{f.default_branch_id}/restore",
            json={"source_branch_id": f.default_branch_id},
        ),
    ),
    Scenario(
        "401 no key",
        "GET",
        BRANCHES,
        401,
        lambda f, h: httpx.get(f"{f.base_url}{_p(f)}/branches", timeout=5),
    ),
    Scenario(
        "401 wrong key",
        "GET",
        BRANCHES,
        401,
        lambda f, h: h.get(f"{_p(f)}/branches", headers={"Authorization": "Bearer nope"}),
    ),
    Scenario("404 branch", "GET", BRANCH, 404, _get(lambda f: "/branches/br-missing-1")),
    Scenario(
        "404 operation",
        "GET",
        OPERATION,
        404,
        _get(lambda f: f"/operations/{'0' * 8}-0000-4000-8000-{'0' * 12}"),
    ),
    Scenario("404 delete", "DELETE", BRANCH, 404, _delete_gone_as_404),
    Scenario(
        "404 project",
        "GET",
        BRANCHES,
        404,
        lambda f, h: h.get("/projects/other-project-1/branches"),
    ),
    Scenario(
        "409 duplicate name",
        "POST",
        BRANCHES,
        409,
        lambda f, h: _create(f, h, {"branch": {"name": "main"}}),
    ),
    Scenario("423 create", "POST", BRANCHES, 423, _locked_create),
    Scenario("423 delete", "DELETE", BRANCH, 423, _locked_delete),
    Scenario("429", "GET", BRANCHES, 429, _injected(429, retry_after=1)),
    Scenario("500", "GET", BRANCHES, 500, _injected(500)),
    Scenario("503", "GET", BRANCHES, 503, _injected(503)),
]
