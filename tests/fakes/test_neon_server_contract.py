"""The fake Neon server cannot drift from Neon's contract.

Every kind of answer the fake gives (success bodies and the GeneralError bodies of 400, 401, 404,
409, 423, 429, 500, 503) is validated against the response schema the Neon API v2 OpenAPI
document declares for that operation, with $refs resolved through a referencing registry. On top
of the schema (which allows extra properties), a second check fails on any property the spec
does not declare, so the fake cannot invent fields either. The requests the client sends are
validated against the request body schemas too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

from dashboard.branches.neon_client import NeonClient
from tests.fakes.neon_server import ROUTES, FakeNeon

SPEC_URI = "urn:neon-api-v2"


def _spec_path() -> Path:
    repo = Path(__file__).resolve().parents[2]
    candidates = [
        Path(os.environ["NEON_OPENAPI_PATH"]) if os.environ.get("NEON_OPENAPI_PATH") else None,
        repo.parent / "shared" / "reference" / "neon-api-v2.openapi.json",
        repo / "shared" / "reference" / "neon-api-v2.openapi.json",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "neon-api-v2.openapi.json not found beside the repository (shared/reference/); "
        "set NEON_OPENAPI_PATH"
    )


SPEC: dict[str, Any] = json.loads(_spec_path().read_text())
OAS_30 = SPEC["openapi"].startswith("3.0")
# OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect; 3.1 uses draft 2020-12.
REGISTRY: Registry = Registry().with_resource(
    SPEC_URI, (DRAFT4 if OAS_30 else DRAFT202012).create_resource(SPEC)
)


def _pointer_get(pointer: str) -> Any:
    node: Any = SPEC
    for token in pointer.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def response_schema_pointer(method: str, template: str, status: int) -> str | None:
    """JSON pointer of the schema the spec declares for this answer (None: no body)."""
    responses = SPEC["paths"][template][method.lower()]["responses"]
    key = str(status) if str(status) in responses else "default"
    assert key in responses, f"{method} {template} declares no {status} and no default"
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    response = responses[key]
    while "$ref" in response:
        pointer = response["$ref"].lstrip("#")
        response = _pointer_get(pointer)
    if "content" not in response:
        return None
    assert "application/json" in response["content"], f"{pointer} is not JSON"
    return f"{pointer}/content/{_escape('application/json')}/schema"


def schema_errors(instance: Any, pointer: str, *, request: bool = False) -> list[str]:
    if OAS_30:
        validator_cls = OAS30WriteValidator if request else OAS30ReadValidator
        format_checker = oas30_format_checker
    else:
        validator_cls, format_checker = OAS31Validator, oas31_format_checker
    validator = validator_cls(
        {"$ref": f"{SPEC_URI}#{pointer}"}, registry=REGISTRY, format_checker=format_checker
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _pointer_get(schema["$ref"])
    return schema


def _declared(schema: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """Properties (merged over allOf/anyOf/oneOf) and additionalProperties of a schema."""
    schema = _resolve(schema)
    properties = dict(schema.get("properties", {}))
    additional = schema.get("additionalProperties")
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            sub_properties, sub_additional = _declared(sub)
            properties.update(sub_properties)
            additional = additional if additional is not None else sub_additional
    return properties, additional


def undeclared_properties(instance: Any, schema: Mapping[str, Any], where: str = "") -> list[str]:
    """Paths of properties in the instance that the schema does not declare."""
    schema = _resolve(schema)
    found: list[str] = []
    if isinstance(instance, dict):
        properties, additional = _declared(schema)
        for key, value in instance.items():
            if key in properties:
                found += undeclared_properties(value, properties[key], f"{where}/{key}")
            elif isinstance(additional, Mapping):
                found += undeclared_properties(value, additional, f"{where}/{key}")
            elif additional is not True:
                found.append(f"{where}/{key}")
    elif isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, value in enumerate(instance):
                found += undeclared_properties(value, items, f"{where}/{index}")
    return found


def assert_conforms(response: httpx.Response, method: str, template: str) -> None:
    """Fail unless the answer has the status, body and fields the spec declares."""
    pointer = response_schema_pointer(method, template, response.status_code)
    if pointer is None:
        assert response.content == b"", f"{response.status_code} should have no body"
        return
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    errors = schema_errors(body, pointer)
    assert not errors, f"{method} {template} -> {response.status_code}:\n" + "\n".join(errors)
    extra = undeclared_properties(body, _pointer_get(pointer))
    assert not extra, f"{method} {template} -> {response.status_code} undeclared: {extra}"


# ---- scenarios: one request each, producing one kind of answer --------------------------------

BRANCHES = "/projects/{project_id}/branches"
BRANCH = "/projects/{project_id}/branches/{branch_id}"
OPERATION = "/projects/{project_id}/operations/{operation_id}"
CONNECTION_URI = "/projects/{project_id}/connection_uri"

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


@pytest.fixture
def fake() -> Iterator[FakeNeon]:
    with FakeNeon() as server:
        yield server


@pytest.fixture
def http(fake: FakeNeon) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    transport = httpx.HTTPTransport(verify=False)  # plain HTTP to 127.0.0.1, no TLS context
    with httpx.Client(
        base_url=fake.base_url, headers=headers, timeout=5, transport=transport
    ) as client:
        yield client


def test_the_document_is_openapi_3_and_validated_with_the_matching_dialect() -> None:
    version = SPEC["openapi"][:3]
    assert version in {"3.0", "3.1"}, f"unsupported OpenAPI version {SPEC['openapi']}"
    assert OAS_30 is (version == "3.0")
    assert response_schema_pointer("GET", BRANCH, 404) == (
        f"/components/responses/GeneralError/content/{_escape('application/json')}/schema"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_answer_matches_the_spec(scenario: Scenario, fake: FakeNeon, http: httpx.Client) -> None:
    response = scenario.run(fake, http)
    assert response.status_code == scenario.status, response.text
    assert_conforms(response, scenario.method, scenario.template)
    if scenario.status >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "request_id"}
        assert body["request_id"] == response.headers["x-request-id"]


def test_error_bodies_echo_the_request_id(fake: FakeNeon, http: httpx.Client) -> None:
    fake.fail_next(503)
    response = http.get(f"{_p(fake)}/branches", headers={"X-Request-ID": "req-123"})
    assert response.json()["request_id"] == "req-123"


def test_rate_limit_answer_carries_retry_after(fake: FakeNeon, http: httpx.Client) -> None:
    fake.fail_next(429, retry_after=2)
    assert http.get(f"{_p(fake)}/branches").headers["retry-after"] == "2"


def test_scenarios_cover_every_route_the_fake_serves() -> None:
    for method, template in ROUTES:
        assert method.lower() in SPEC["paths"][template], f"{method} {template} is not in the spec"
        assert any(
            s.method == method and s.template == template and s.status < 300 for s in SCENARIOS
        ), f"no success scenario for {method} {template}"
    covered_errors = {s.status for s in SCENARIOS if s.status >= 400}
    assert {401, 404, 423, 429, 500} <= covered_errors


def test_unknown_enum_mode_is_deliberately_off_contract_only_where_the_spec_has_an_enum(
    fake: FakeNeon, http: httpx.Client
) -> None:
    fake.operation_duration = 60.0
    created = _created(fake, http)
    fake.unknown_enum_mode(branch_state="hibernating", operation_status="paused")

    branch = http.get(f"{_p(fake)}/branches/{created['branch']['id']}")
    assert branch.json()["branch"]["current_state"] == "hibernating"
    assert_conforms(branch, "GET", BRANCH)  # BranchState is a free string in the spec

    operation = http.get(f"{_p(fake)}/operations/{created['operations'][0]['id']}")
    pointer = response_schema_pointer("GET", OPERATION, 200)
    assert pointer is not None
    errors = schema_errors(operation.json(), pointer)
    assert len(errors) == 1 and errors[0].startswith("operation/status: 'paused' is not one of")


def test_requests_the_client_sends_match_the_request_schemas(fake: FakeNeon) -> None:
    with NeonClient(fake.api_key, fake.project_id, base_url=fake.base_url) as client:
        client.branch_create(
            "full", parent_id=fake.default_branch_id, expires_at="2030-01-01T00:00:00Z"
        )
        client.branch_create("copy", parent_timestamp="2025-10-01T12:00:00Z", schema_only=True)
        child = client.branch_create("child").branch
        client.branch_restore_from_parent(child.id)

    bodies = {
        ("POST", BRANCHES): [r.body for r in fake.requests_to("POST", "/branches")],
        ("POST", f"{BRANCH}/restore"): [r.body for r in fake.requests_to("POST", "/restore")],
    }
    for (method, template), sent in bodies.items():
        assert sent
        pointer = (
            f"/paths/{_escape(template)}/{method.lower()}/requestBody/content/"
            f"{_escape('application/json')}/schema"
        )
        for body in sent:
            assert not schema_errors(body, pointer, request=True), body
            assert not undeclared_properties(body, _pointer_get(pointer)), body
