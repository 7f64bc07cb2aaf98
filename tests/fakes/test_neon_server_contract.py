"""The fake Neon server cannot drift from Neon's contract.

Every kind of answer the fake gives (success bodies and the GeneralError bodies of 400, 401, 404,
409, 423, 429, 500, 503) is validated against the response schema the Neon API v2 OpenAPI
document declares for that operation, with $refs resolved through a referencing registry. On top
of the schema (which allows extra properties), a second check fails on any property the spec
does not declare, so the fake cannot invent fields either.
"""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.neon_contract_scenarios import (
    BRANCH,
    OPERATION,
    SCENARIOS,
    Scenario,
    _created,
    _p,
)
from tests.fakes.neon_contract_spec import (
    OAS_30,
    SPEC,
    _escape,
    assert_conforms,
    response_schema_pointer,
    schema_errors,
)
from tests.fakes.neon_server import FakeNeon


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
