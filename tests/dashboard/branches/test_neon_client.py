"""The Neon client against the fake Neon server (real HTTP on 127.0.0.1, no real waits)."""
# ruff: noqa: F811  (fixtures imported from neon_client_fixtures are redefined as arguments)

from __future__ import annotations

import logging

import httpx
import pytest

from dashboard.branches.neon_client import (
    NeonApiError,
    NeonClient,
    NeonOperationError,
    NeonTransportError,
)
from tests.dashboard.branches.neon_client_fixtures import (  # noqa: F401 - fixtures
    Sleeper,
    client,
    fake,
    make_client,
    sleeper,
)
from tests.fakes.neon_server import FakeNeon

# ---- happy path ------------------------------------------------------------------------------


def test_create_wait_connect_delete(fake: FakeNeon, sleeper: Sleeper, client: NeonClient) -> None:
    fake.operation_duration = 3.0
    created = client.branch_create("dev-happy", parent_id=fake.default_branch_id)

    (create_request,) = fake.requests_to("POST", "/branches")
    assert create_request.body == {
        "branch": {"name": "dev-happy", "parent_id": fake.default_branch_id},
        "endpoints": [{"type": "read_write"}],
    }
    assert created.reconciled is False
    assert created.branch.name == "dev-happy"
    assert created.branch.parent_id == fake.default_branch_id
    assert created.branch.current_state == "init"
    assert not created.branch.is_ready
    assert [e.type for e in created.endpoints] == ["read_write"]
    assert [op.status for op in created.operations] == ["scheduling", "scheduling"]
    assert {op.action for op in created.operations} == {"create_timeline", "start_compute"}

    # Connection URIs: direct and -pooler, both carrying the role's password.
    password = fake.role_password(created.branch.id)
    direct = created.connection_uri_for(pooled=False)
    pooled = created.connection_uri_for(pooled=True)
    assert direct is not None and pooled is not None
    assert direct.host == created.endpoints[0].host
    assert pooled.host == created.endpoints[0].host.replace(".", "-pooler.", 1)
    assert f":{password}@" in direct.uri and f":{password}@" in pooled.uri
    assert password not in repr(direct) and password not in str(pooled)

    # Operations move scheduling -> running -> finished as the fake's clock advances.
    first = created.operations[0].id
    fake.advance(1.5)
    assert client.operation_get(first).status == "running"
    finished = client.operations_wait([op.id for op in created.operations], poll_interval=1.0)
    assert [op.status for op in finished] == ["finished", "finished"]
    assert all(op.is_finished and op.has_known_status for op in finished)
    assert sleeper.calls == [1.0, 1.0]

    branch = client.branch_get(created.branch.id)
    assert branch.is_ready and branch.current_state == "ready"
    (endpoint,) = client.branch_endpoints(branch.id)
    assert endpoint.current_state == "active" and endpoint.is_read_write
    assert [d.name for d in client.databases_list(branch.id)] == ["neondb"]
    assert [r.name for r in client.roles_list(branch.id)] == ["neondb_owner"]

    uri = client.connection_uri(branch.id, "neondb", "neondb_owner", pooled=True)
    assert uri.pooled and uri.host.endswith(f"-pooler.{endpoint.host.split('.', 1)[1]}")
    assert uri.uri == pooled.uri
    (uri_request,) = fake.requests_to("GET", "/connection_uri")
    assert uri_request.query == {
        "branch_id": branch.id,
        "database_name": "neondb",
        "role_name": "neondb_owner",
        "pooled": "true",
    }
    assert client.connection_uri(branch.id, "neondb", "neondb_owner", pooled=False).uri == (
        direct.uri
    )

    deleted = client.branch_delete(branch.id)
    assert deleted.already_gone is False
    assert {op.action for op in deleted.operations} == {"suspend_compute", "delete_timeline"}
    assert not fake.has_branch(branch.id)
    with pytest.raises(NeonApiError) as missing:
        client.branch_get(branch.id)
    assert missing.value.status == 404


def test_create_options_are_sent_as_the_spec_names_them(fake: FakeNeon, client: NeonClient) -> None:
    result = client.branch_create(
        "schema-copy",
        parent_timestamp="2025-10-01T12:00:00Z",
        schema_only=True,
        expires_at="2030-01-01T00:00:00Z",
        with_endpoint=False,
    )
    (request,) = fake.requests_to("POST", "/branches")
    assert request.body == {
        "branch": {
            "name": "schema-copy",
            "parent_timestamp": "2025-10-01T12:00:00Z",
            "init_source": "schema-only",
            "expires_at": "2030-01-01T00:00:00Z",
        }
    }
    assert result.endpoints == () and result.connection_uris == ()
    assert result.branch.init_source == "schema-only"


def test_branches_list_follows_the_cursor(fake: FakeNeon, client: NeonClient) -> None:
    names = [f"page-{i}" for i in range(4)]  # with "main": pages of 2, 2 and 1
    for name in names:
        fake.add_branch(name)
    branches = client.branches_list(page_size=2)
    assert sorted(b.name for b in branches) == sorted([*names, "main"])
    pages = fake.requests_to("GET", "/branches")
    assert len(pages) == 3
    assert [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert "cursor" not in pages[0].query and pages[1].query["cursor"] != pages[2].query["cursor"]


def test_branch_find_by_name_wants_the_exact_name(fake: FakeNeon, client: NeonClient) -> None:
    wanted = fake.add_branch("dev")
    fake.add_branch("dev-2")
    found = client.branch_find_by_name("dev")
    assert found is not None and found.id == wanted
    assert client.branch_find_by_name("de") is None
    assert fake.requests_to("GET", "/branches")[0].query["search"] == "dev"


def test_restore_from_parent_and_schema_diff(
    fake: FakeNeon, sleeper: Sleeper, client: NeonClient
) -> None:
    parent = fake.default_branch_id
    child = client.branch_create("to-reset").branch
    fake.set_schema(child.id, "CREATE TABLE users (id bigint PRIMARY KEY, note text);\n")

    diff = client.branch_schema_diff(child.id)
    assert "+CREATE TABLE users (id bigint PRIMARY KEY, note text);" in diff
    assert fake.requests_to("GET", "/compare_schema")[0].query == {"db_name": "neondb"}

    fake.operation_duration = 2.0
    restored = client.branch_restore_from_parent(child.id)
    (request,) = fake.requests_to("POST", "/restore")
    assert request.body == {"source_branch_id": parent}
    assert restored.branch.current_state == "resetting"
    client.operations_wait([op.id for op in restored.operations], poll_interval=1.0)
    assert client.branch_get(child.id).is_ready
    assert client.branch_schema_diff(child.id, base_branch_id=parent) == ""


# ---- tolerance -------------------------------------------------------------------------------


def test_unknown_enum_values_are_kept_as_strings(
    fake: FakeNeon, sleeper: Sleeper, client: NeonClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.operation_duration = 60.0
    created = client.branch_create("odd-states")
    fake.unknown_enum_mode(branch_state="hibernating", operation_status="paused")

    branch = client.branch_get(created.branch.id)
    assert branch.current_state == "hibernating"
    assert not branch.has_known_state and not branch.is_ready
    assert {b.current_state for b in client.branches_list()} == {"hibernating"}
    operation = client.operation_get(created.operations[0].id)
    assert operation.status == "paused"
    assert not operation.has_known_status and not operation.is_terminal

    clock = iter(range(0, 1000, 10))
    neon = make_client(fake, sleeper, clock=lambda: float(next(clock)))
    with neon, caplog.at_level(logging.WARNING), pytest.raises(NeonOperationError) as err:
        neon.operations_wait([operation.id], timeout=25, poll_interval=5)
    assert "did not finish within 25 seconds" in str(err.value)
    assert "unknown status 'paused'" in caplog.text


def test_failed_operation_raises(fake: FakeNeon, client: NeonClient) -> None:
    fake.operation_duration = 60.0
    created = client.branch_create("doomed")
    fake.fail_operations("pageserver unavailable")
    with pytest.raises(NeonOperationError) as err:
        client.operations_wait([op.id for op in created.operations])
    assert err.value.operation is not None and err.value.operation.status == "failed"
    assert "ended as failed: pageserver unavailable" in str(err.value)


# ---- delete ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing_status", [204, 404])
def test_delete_of_a_branch_already_gone_is_success(
    fake: FakeNeon, client: NeonClient, missing_status: int
) -> None:
    fake.delete_missing_status = missing_status
    branch_id = fake.add_branch("short-lived")
    assert client.branch_delete(branch_id).already_gone is False
    again = client.branch_delete(branch_id)
    assert again.already_gone is True and again.operations == ()


class RecordingTransport(httpx.HTTPTransport):
    """Plain HTTP to the fake, keeping each request as it left the client."""

    def __init__(self, *, refuse: bool = False) -> None:
        super().__init__(verify=False)
        self.requests: list[httpx.Request] = []
        self.refuse = refuse

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.refuse:  # nothing leaves this machine
            raise httpx.ConnectError("refused by the test", request=request)
        return super().handle_request(request)


def test_every_request_carries_the_timeouts_it_was_given(fake: FakeNeon, sleeper: Sleeper) -> None:
    transport = RecordingTransport()
    neon = make_client(
        fake,
        sleeper,
        connect_timeout=1,
        read_timeout=2,
        write_timeout=3,
        pool_timeout=4,
        transport=transport,
    )
    with neon:
        neon.branches_list()
        neon.branch_create("timed")
    assert [r.method for r in transport.requests] == ["GET", "POST"]
    for request in transport.requests:
        assert request.extensions["timeout"] == {"connect": 1, "read": 2, "write": 3, "pool": 4}


def test_by_default_no_wait_is_unbounded(fake: FakeNeon) -> None:
    transport = RecordingTransport()
    neon = NeonClient(fake.api_key, fake.project_id, base_url=fake.base_url, transport=transport)
    with neon:
        neon.branches_list()
    (request,) = transport.requests
    timeouts = request.extensions["timeout"]
    assert set(timeouts) == {"connect", "read", "write", "pool"}
    assert all(seconds is not None and 0 < seconds <= 60 for seconds in timeouts.values())


def test_by_default_requests_go_to_neons_api_v2(sleeper: Sleeper) -> None:
    transport = RecordingTransport(refuse=True)
    neon = NeonClient("k", "proj-1", sleep=sleeper, max_retries=0, transport=transport)
    with neon, pytest.raises(NeonTransportError):
        neon.branch_get("br-1")
    (request,) = transport.requests
    assert str(request.url) == "https://console.neon.tech/api/v2/projects/proj-1/branches/br-1"
    assert request.headers["Authorization"] == "Bearer k"


def test_the_projects_history_window_is_read(fake: FakeNeon, client: NeonClient) -> None:
    fake.history_retention_seconds = 7 * 86400
    assert client.history_retention_seconds() == 7 * 86400
    fake.fail_next(503)  # a read: retried
    assert client.history_retention_seconds() == 7 * 86400


def test_the_projects_computes_are_listed_across_its_branches(
    fake: FakeNeon, client: NeonClient
) -> None:
    other = fake.add_branch("other", with_endpoint=True)
    fake.add_branch("no-compute")
    endpoints = client.project_endpoints()
    assert sorted(e.branch_id for e in endpoints) == sorted([fake.default_branch_id, other])
    assert all(e.project_id == fake.project_id and e.host.startswith("ep-") for e in endpoints)
    assert {e.host for e in endpoints} == {
        fake.endpoint_host(fake.default_branch_id),
        fake.endpoint_host(other),
    }
