"""The Neon client's retries, timeouts, ambiguous creates and secret scrubbing (fake Neon)."""
# ruff: noqa: F811  (fixtures imported from neon_client_fixtures are redefined as arguments)

from __future__ import annotations

import logging
import random
import time

import pytest

from dashboard.branches.neon_client import (
    NeonApiError,
    NeonClient,
    NeonTimeoutError,
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


# ---- errors and secrets ----------------------------------------------------------------------


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
