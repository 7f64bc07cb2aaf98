"""The fake Neon server serves only spec routes, each covered by a contract scenario, and the
requests the client sends are validated against the request body schemas of the spec.
"""

from __future__ import annotations

from dashboard.branches.neon_client import NeonClient
from tests.fakes.neon_contract_scenarios import BRANCH, BRANCHES, SCENARIOS
from tests.fakes.neon_contract_spec import (
    SPEC,
    _escape,
    _pointer_get,
    schema_errors,
    undeclared_properties,
)
from tests.fakes.neon_server import ROUTES, FakeNeon
from tests.fakes.openapi_subset import subset


def test_scenarios_cover_every_route_the_fake_serves() -> None:
    for method, template in ROUTES:
        assert method.lower() in SPEC["paths"][template], f"{method} {template} is not in the spec"
        assert any(
            s.method == method and s.template == template and s.status < 300 for s in SCENARIOS
        ), f"no success scenario for {method} {template}"
    covered_errors = {s.status for s in SCENARIOS if s.status >= 400}
    assert {401, 404, 423, 429, 500} <= covered_errors


def test_requests_the_client_sends_match_the_request_schemas(fake: FakeNeon) -> None:
    with NeonClient(fake.api_key, fake.project_id, base_url=fake.base_url) as client:
        client.branch_create(
            "full", parent_id=fake.default_branch_id, expires_at="2030-01-01T00:00:00Z"
        )
        client.branch_create("copy", parent_timestamp="2025-10-01T12:00:00Z", schema_only=True)
        child = client.branch_create("child").branch
        client.branch_restore_from_parent(child.id)
        client.role_create(child.id, "sd_child")

    bodies = {
        ("POST", BRANCHES): [r.body for r in fake.requests_to("POST", "/branches")],
        ("POST", f"{BRANCH}/restore"): [r.body for r in fake.requests_to("POST", "/restore")],
        ("POST", f"{BRANCH}/roles"): [r.body for r in fake.requests_to("POST", "/roles")],
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


def test_the_committed_subset_holds_every_served_operation_and_names_its_source() -> None:
    """The spec comes from the repository: regenerate it with openapi_subset.py on a change."""
    recorded = SPEC["x-schemadesk-subset"]
    assert recorded["source_version"] == SPEC["info"]["version"]
    assert recorded["source_date"] and len(recorded["source_sha256"]) == 64
    assert recorded["operations"] == [f"{m} {t}" for m, t in sorted(set(ROUTES))]
    assert set(SPEC["paths"]) == {template for _, template in ROUTES}
    assert subset(SPEC, ROUTES)["components"] == SPEC["components"]  # closed under $ref
