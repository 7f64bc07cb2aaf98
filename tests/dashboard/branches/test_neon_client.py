"""The Neon client against the fake Neon server (real HTTP on 127.0.0.1, no real waits)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

import httpx
import pytest

from dashboard.branches.neon_client import (
    Branch,
    ConnectionUri,
    NeonApiError,
    NeonClient,
    NeonOperationError,
    NeonTimeoutError,
    NeonTransportError,
    Operation,
)
from tests.fakes.neon_server import FakeNeon


class Sleeper:
    """Records the client's waits instead of waiting; optionally moves the fake's clock."""

    def __init__(self, fake: FakeNeon | None = None) -> None:
        self.calls: list[float] = []
        self.fake = fake

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.fake is not None:
            self.fake.advance(seconds)


@pytest.fixture
def fake() -> Iterator[FakeNeon]:
    with FakeNeon() as server:
        yield server


@pytest.fixture
def sleeper(fake: FakeNeon) -> Sleeper:
    return Sleeper(fake)


@pytest.fixture
def client(fake: FakeNeon, sleeper: Sleeper) -> Iterator[NeonClient]:
    with make_client(fake, sleeper) as neon:
        yield neon


def make_client(fake: FakeNeon, sleeper: Sleeper, **overrides: object) -> NeonClient:
    options: dict[str, object] = {
        "base_url": fake.base_url,
        "sleep": sleeper,
        "rng": random.Random(1234),
        "read_timeout": 5.0,
        # Plain HTTP to 127.0.0.1: skip building a TLS context (75 ms per client).
        "transport": httpx.HTTPTransport(verify=False),
    }
    options.update(overrides)
    return NeonClient(fake.api_key, fake.project_id, **options)  # type: ignore[arg-type]


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


# ---- retries -----------------------------------------------------------------------------------


def test_locked_project_is_retried_until_the_operation_finishes(
    fake: FakeNeon, sleeper: Sleeper, client: NeonClient
) -> None:
    fake.operation_duration = 2.0
    client.branch_create("first")
    second = client.branch_create("second")  # 423 until the fake's clock passes 2 seconds

    assert second.branch.name == "second"
    # One POST for "first", then one for "second" plus one more after every wait.
    assert len(fake.requests_to("POST", "/branches")) == 2 + len(sleeper.calls)
    assert len(sleeper.calls) >= 2
    assert sum(sleeper.calls[:-1]) < 2.0 <= sum(sleeper.calls)
    # A 423 is not ambiguous: no look-up by name happened.
    assert fake.requests_to("GET", "/branches") == []


def test_locked_answer_exhausts_retries_into_a_clear_error(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.fail_next(423, times=10)
    with make_client(fake, sleeper, max_retries=2) as neon, pytest.raises(NeonApiError) as err:
        neon.branch_get(fake.default_branch_id)
    assert err.value.status == 423
    assert str(err.value).startswith(
        "Neon is busy with another operation on this project (423 LOCKED); "
        "try again in a moment. request id: "
    )
    assert len(sleeper.calls) == 2


def test_rate_limit_backs_off_with_growing_jittered_delays(fake: FakeNeon) -> None:
    delays: list[list[float]] = []
    for seed in (1, 2):
        sleeper = Sleeper()
        fake.fail_next(429, times=3)
        with make_client(fake, sleeper, rng=random.Random(seed), backoff_base=0.5) as neon:
            assert neon.branch_get(fake.default_branch_id).name == "main"
        delays.append(sleeper.calls)

    for calls in delays:
        assert len(calls) == 3
        # Equal jitter: attempt n waits between half and all of 0.5 * 2**(n-1).
        for n, delay in enumerate(calls):
            ceiling = 0.5 * 2**n
            assert ceiling / 2 <= delay <= ceiling
        assert calls[0] < calls[1] < calls[2]
    assert delays[0] != delays[1]  # jitter: two clients do not wait in lockstep


def test_rate_limit_honours_retry_after(fake: FakeNeon) -> None:
    sleeper = Sleeper()
    fake.fail_next(429, times=2, retry_after=0)
    with make_client(fake, sleeper) as neon:
        neon.branches_list()
        assert sleeper.calls == [0.0, 0.0]

        fake.fail_next(429, retry_after=7)
        neon.branches_list()
        assert sleeper.calls[-1] == 7.0

    capped = Sleeper()
    fake.fail_next(429, retry_after=3600)
    with make_client(fake, capped, retry_after_max=30.0) as neon:
        neon.branches_list()
    assert capped.calls == [30.0]


def test_server_error_is_retried_then_succeeds(fake: FakeNeon, client: NeonClient) -> None:
    fake.fail_next(503, times=2, method="GET")
    assert client.branch_get(fake.default_branch_id).default is True
    assert len(fake.requests_to("GET")) == 3


def test_server_errors_exhausted_raise_api_error_with_details(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.fail_next(500, times=10, code="INTERNAL_ERROR", message="storage controller exploded")
    with make_client(fake, sleeper, max_retries=2) as neon, pytest.raises(NeonApiError) as err:
        neon.branches_list()
    error = err.value
    requests = fake.requests_to("GET", "/branches")
    assert len(requests) == 3 and len(sleeper.calls) == 2
    assert (error.status, error.code) == (500, "INTERNAL_ERROR")
    assert error.message == "storage controller exploded"
    assert error.request_id == requests[-1].request_id
    assert str(error) == (
        "Neon had a problem on its side (500 INTERNAL_ERROR); try again in a few minutes. "
        f"request id: {requests[-1].request_id}"
    )


def test_client_errors_are_not_retried(fake: FakeNeon, client: NeonClient) -> None:
    with pytest.raises(NeonApiError) as err:
        client.branch_create("orphan", parent_id="br-does-not-exist")
    assert err.value.status == 404
    assert len(fake.requests_to("POST", "/branches")) == 1


def test_wrong_api_key_gives_a_sentence_and_no_retry(fake: FakeNeon, sleeper: Sleeper) -> None:
    neon = NeonClient("wrong-key", fake.project_id, base_url=fake.base_url, sleep=sleeper)
    with neon, pytest.raises(NeonApiError) as err:
        neon.branches_list()
    assert err.value.status == 401
    assert "check NEON_API_KEY" in str(err.value)
    assert sleeper.calls == []
    assert [r.authorized for r in fake.requests] == [False]


# ---- timeouts and ambiguous creates ------------------------------------------------------------


def test_read_timeout_is_retried_then_succeeds(fake: FakeNeon, sleeper: Sleeper) -> None:
    fake.delay_next(1.0, method="GET")
    with make_client(fake, sleeper, read_timeout=0.3) as neon:
        assert neon.branch_get(fake.default_branch_id).name == "main"
    assert len(sleeper.calls) == 1


def test_read_timeout_exhausted_gives_a_clear_error(fake: FakeNeon, sleeper: Sleeper) -> None:
    fake.delay_next(1.0, times=5)
    started = time.monotonic()
    neon = make_client(fake, sleeper, read_timeout=0.3, max_retries=1)
    with neon, pytest.raises(NeonTimeoutError) as err:
        neon.branches_list()
    assert time.monotonic() - started < 1.5  # the client gave up; it did not wait for the fake
    assert str(err.value) == (
        f"Neon did not answer within 0.3 seconds (GET /projects/{fake.project_id}/branches); "
        "it may be slow or busy, try again in a moment."
    )
    assert err.value.__cause__ is None
    assert len(sleeper.calls) == 1


def test_create_after_a_timeout_finds_the_branch_instead_of_duplicating(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.delay_next(1.0, method="POST")  # Neon creates the branch, but the answer comes too late
    with make_client(fake, sleeper, read_timeout=0.3) as neon:
        result = neon.branch_create("after-timeout")

    assert result.reconciled is True
    assert fake.branch_ids_named("after-timeout") == [result.branch.id]
    assert len(fake.requests_to("POST", "/branches")) == 1
    assert [e.type for e in result.endpoints] == ["read_write"]
    assert result.operations == () and result.connection_uris == ()


def test_create_timing_out_on_the_last_attempt_still_finds_the_branch(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.delay_next(1.0, method="POST")
    with make_client(fake, sleeper, read_timeout=0.3, max_retries=0) as neon:
        result = neon.branch_create("no-retries-left")
    assert result.reconciled is True
    assert fake.branch_ids_named("no-retries-left") == [result.branch.id]
    assert sleeper.calls == []


def test_create_after_a_lost_gateway_answer_finds_the_branch(
    fake: FakeNeon, client: NeonClient
) -> None:
    fake.fail_next(502, method="POST", after_processing=True)
    result = client.branch_create("behind-gateway")
    assert result.reconciled is True
    assert fake.branch_ids_named("behind-gateway") == [result.branch.id]
    assert len(fake.requests_to("POST", "/branches")) == 1


def test_create_is_sent_again_when_the_look_up_finds_nothing(
    fake: FakeNeon, client: NeonClient
) -> None:
    fake.fail_next(503, method="POST")  # rejected before Neon did anything
    result = client.branch_create("second-try")
    assert result.reconciled is False
    assert len(fake.branch_ids_named("second-try")) == 1
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.requests]
    assert methods == [("POST", "branches"), ("GET", "branches"), ("POST", "branches")]


def test_connect_error_is_retried_then_explained(sleeper: Sleeper) -> None:
    with FakeNeon() as gone:
        base_url = gone.base_url  # a port nobody listens on once the fake stops
    neon = NeonClient("key", "proj", base_url=base_url, sleep=sleeper, max_retries=2)
    with neon, pytest.raises(NeonTransportError) as err:
        neon.branches_list()
    assert str(err.value).startswith("Could not connect to Neon at 127.0.0.1")
    assert len(sleeper.calls) == 2


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


def test_parsing_ignores_unknown_fields_and_bad_values() -> None:
    branch = Branch.from_api(
        {
            "id": "br-x",
            "project_id": "p",
            "name": "n",
            "current_state": "ready",
            "created_at": "not a date",
            "logical_size": "big",
            "brand_new_field": {"nested": True},
        }
    )
    assert branch.created_at is None and branch.logical_size is None and branch.is_ready
    operation = Operation.from_api({"id": "op", "status": 7, "failures_count": None})
    assert operation.status == "unknown" and operation.failures_count == 0


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


# ---- errors and secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "", "The Neon API key is not allowed to do this (403 FORBIDDEN): nope"),
        (404, "NOT_FOUND", "Neon could not find it (404 NOT_FOUND): nope; it may have been"),
        (409, "CONFLICT", "Neon refused because of a conflict (409 CONFLICT): nope"),
        (429, "", "Neon is rate limiting this API key (429 TOO_MANY_REQUESTS); wait a minute"),
        (503, "", "Neon had a problem on its side (503 SERVICE_UNAVAILABLE); try again"),
        (400, "BAD_REQUEST", "Neon rejected the request (400 BAD_REQUEST): nope. request id: r1"),
    ],
)
def test_error_sentences(status: int, code: str, expected: str) -> None:
    assert str(NeonApiError(status, code, "nope", "r1")).startswith(expected)


def test_api_key_and_passwords_never_leak(
    fake: FakeNeon, sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dashboard.branches.neon_client")
    key = fake.api_key
    errors: list[Exception] = []
    with make_client(fake, sleeper, read_timeout=0.3, max_retries=1) as neon:
        assert key not in repr(neon)
        created = neon.branch_create("secretive")
        neon.connection_uri(created.branch.id, "neondb", "neondb_owner", pooled=False)
        password = fake.role_password(created.branch.id)

        fake.fail_next(
            500, times=2, message=f"token {key} rejected for postgresql://a:{password}@h"
        )
        fake.fail_next(423, times=2)
        fake.delay_next(1.0, times=2)
        for call in (neon.branches_list, neon.branches_list, neon.branches_list):
            with pytest.raises((NeonApiError, NeonTimeoutError)) as err:
                call()
            errors.append(err.value)
    with NeonClient("wrong-key", fake.project_id, base_url=fake.base_url, sleep=sleeper) as bad:
        with pytest.raises(NeonApiError) as err:
            bad.branches_list()
        errors.append(err.value)

    assert [type(e).__name__ for e in errors] == [
        "NeonApiError",
        "NeonApiError",
        "NeonTimeoutError",
        "NeonApiError",
    ]
    assert "***" in errors[0].message  # the echoed key and password were scrubbed
    for error in errors:
        for secret in (key, password, "wrong-key"):
            assert secret not in str(error) and secret not in repr(error)
            assert secret not in str(error.args)
    assert caplog.records, "the client should log its requests"
    for secret in (key, password, "wrong-key"):
        assert secret not in caplog.text
    assert "request_id=" in caplog.text and "GET /projects/" in caplog.text


def test_connection_uri_repr_hides_the_password() -> None:
    uri = ConnectionUri.from_uri("postgresql://app:s3cret@ep-x-pooler.neon.tech/db", pooled=True)
    assert (uri.role, uri.database, uri.host) == ("app", "db", "ep-x-pooler.neon.tech")
    assert "s3cret" not in repr(uri) and "s3cret" not in str(uri)
    assert str(uri) == "postgresql://app:***@ep-x-pooler.neon.tech/db"


def test_timeouts_are_explicit() -> None:
    neon = NeonClient("k", "p", connect_timeout=1, read_timeout=2, write_timeout=3, pool_timeout=4)
    with neon:
        assert neon.timeout == httpx.Timeout(connect=1, read=2, write=3, pool=4)
        assert neon.base_url == "https://console.neon.tech/api/v2"
