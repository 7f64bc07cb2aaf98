"""The Neon client against the fake Neon: what is retried, how ambiguous failures of changes are
resolved by looking at the state (never a duplicate branch, a double restore or a foreign branch
adopted), and secret scrubbing. Waits are counted through a recording sleeper, never timed."""
# ruff: noqa: F811  (fixtures imported from neon_client_fixtures are redefined as arguments)

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.branches.neon_client import (
    NeonApiError,
    NeonClient,
    NeonError,
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

# ---- which failures are retried ----------------------------------------------------------------


def test_locked_project_is_waited_out_until_the_operation_finishes(
    fake: FakeNeon, sleeper: Sleeper, client: NeonClient
) -> None:
    fake.operation_duration = 20.0  # far longer than the old ~7.5 s retry budget
    client.branch_create("first")
    second = client.branch_create("second")  # 423 until the fake's clock passes 20 seconds

    assert second.branch.name == "second"
    # One POST for "first", then one for "second" plus one more after every wait.
    assert len(fake.requests_to("POST", "/branches")) == 2 + len(sleeper.calls)
    assert sum(sleeper.calls[:-1]) < 20.0 <= sum(sleeper.calls)
    assert len(sleeper.calls) > client.max_retries  # a 423 is not bound by max_retries
    # A 423 is not ambiguous: no look-up happened.
    assert fake.requests_to("GET", "/branches") == []


def test_locked_project_is_waited_out_no_longer_than_the_deadline(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.fail_next(423, times=1000, retry_after=4)
    with (
        make_client(fake, sleeper, locked_wait_seconds=30.0) as neon,
        pytest.raises(NeonApiError) as err,
    ):
        neon.branch_get(fake.default_branch_id)
    assert err.value.status == 423
    assert str(err.value).startswith(
        "Neon is busy with another operation on this project (423 LOCKED); "
        "try again in a moment. request id: "
    )
    assert sum(sleeper.calls) == 30.0  # waited exactly up to the deadline, then gave up
    assert min(sleeper.calls) >= 4.0 or sleeper.calls[-1] < 4.0  # never sooner than Retry-After
    assert all(call >= 4.0 for call in sleeper.calls[:-1])
    assert len(fake.requests_to("GET")) == len(sleeper.calls) + 1


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


@pytest.mark.parametrize("status", [429, 503])
def test_a_create_refused_before_neon_acted_is_sent_again_without_looking(
    fake: FakeNeon, sleeper: Sleeper, client: NeonClient, status: int
) -> None:
    fake.fail_next(status, method="POST", retry_after=3)
    result = client.branch_create("second-try")
    assert result.reconciled is False
    assert len(fake.branch_ids_named("second-try")) == 1
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.requests]
    assert methods == [("POST", "branches"), ("POST", "branches")]
    assert sleeper.calls == [3.0]  # Retry-After honoured


def test_get_server_errors_are_retried_then_succeed(fake: FakeNeon, client: NeonClient) -> None:
    fake.fail_next(502, times=2, method="GET")
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


def test_read_timeout_of_a_get_is_retried_then_succeeds(fake: FakeNeon, sleeper: Sleeper) -> None:
    fake.delay_next(1.0, method="GET")
    with make_client(fake, sleeper, read_timeout=0.3) as neon:
        assert neon.branch_get(fake.default_branch_id).name == "main"
    assert len(sleeper.calls) == 1


def test_read_timeout_exhausted_gives_a_clear_error(fake: FakeNeon, sleeper: Sleeper) -> None:
    fake.delay_next(1.0, times=5)
    neon = make_client(fake, sleeper, read_timeout=0.3, max_retries=1)
    with neon, pytest.raises(NeonTimeoutError) as err:
        neon.branches_list()
    assert str(err.value) == (
        f"Neon did not answer within 0.3 seconds (GET /projects/{fake.project_id}/branches); "
        "it may be slow or busy, try again in a moment."
    )
    assert err.value.__cause__ is None
    assert len(sleeper.calls) == 1
    assert len(fake.requests_to("GET", "/branches")) == 2


def test_connect_error_is_retried_then_explained(sleeper: Sleeper) -> None:
    with FakeNeon() as gone:
        base_url = gone.base_url  # a port nobody listens on once the fake stops
    neon = NeonClient(
        "key", "proj", base_url=base_url, sleep=sleeper, clock=sleeper.clock, max_retries=2
    )
    with neon, pytest.raises(NeonTransportError) as err:
        neon.branch_create("never-sent")  # a POST too: a refused connection carried nothing
    assert str(err.value).startswith("Could not connect to Neon at 127.0.0.1")
    assert len(sleeper.calls) == 2


# ---- ambiguous failures of a create: look, never adopt what is not ours ------------------------

AMBIGUOUS_CREATE_FAILURES = {
    "502 after processing": lambda fake: fake.fail_next(502, method="POST", after_processing=True),
    "500 after processing": lambda fake: fake.fail_next(500, method="POST", after_processing=True),
    "answer dropped": lambda fake: fake.drop_answer_next(method="POST"),
    "read timeout": lambda fake: fake.delay_next(1.0, method="POST"),
}


@pytest.mark.parametrize("failure", AMBIGUOUS_CREATE_FAILURES, ids=list(AMBIGUOUS_CREATE_FAILURES))
def test_a_create_carried_out_before_an_ambiguous_failure_is_found_not_sent_again(
    fake: FakeNeon, sleeper: Sleeper, failure: str
) -> None:
    AMBIGUOUS_CREATE_FAILURES[failure](fake)
    with make_client(fake, sleeper, read_timeout=0.3) as neon:
        result = neon.branch_create("made-once")

    assert result.reconciled is True
    assert fake.branch_ids_named("made-once") == [result.branch.id]  # no duplicate
    assert len(fake.requests_to("POST", "/branches")) == 1  # never sent twice
    assert [e.type for e in result.endpoints] == ["read_write"]
    assert result.operations == () and result.connection_uris == ()


def test_a_create_timing_out_on_the_last_attempt_still_finds_the_branch(
    fake: FakeNeon, sleeper: Sleeper
) -> None:
    fake.delay_next(1.0, method="POST")
    with make_client(fake, sleeper, read_timeout=0.3, max_retries=0) as neon:
        result = neon.branch_create("no-retries-left")
    assert result.reconciled is True
    assert fake.branch_ids_named("no-retries-left") == [result.branch.id]
    assert sleeper.calls == []


def test_a_schema_only_create_is_found_without_a_parent(fake: FakeNeon, client: NeonClient) -> None:
    fake.fail_next(502, method="POST", after_processing=True)
    result = client.branch_create("shape-only", schema_only=True)
    assert result.reconciled is True and result.branch.parent_id is None
    assert fake.branch_ids_named("shape-only") == [result.branch.id]


def test_a_create_not_carried_out_is_sent_again_after_the_look_finds_nothing(
    fake: FakeNeon, client: NeonClient
) -> None:
    fake.fail_next(502, method="POST")  # the gateway failed before Neon did anything
    result = client.branch_create("second-try")
    assert result.reconciled is False
    assert len(fake.branch_ids_named("second-try")) == 1
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.requests]
    assert methods == [("POST", "branches"), ("GET", "branches"), ("POST", "branches")]
    assert fake.requests[1].query["search"] == "second-try"


def test_an_older_branch_of_the_same_name_is_never_adopted(
    fake: FakeNeon, client: NeonClient
) -> None:
    foreign = fake.add_branch("shared-name", created_at=datetime.now(UTC) - timedelta(hours=1))
    fake.fail_next(502, method="POST")  # not carried out: only the foreign branch exists
    with pytest.raises(NeonError) as err:
        client.branch_create("shared-name")
    assert "cannot be proven to be the one this console asked for" in str(err.value)
    assert fake.branch_ids_named("shared-name") == [foreign]  # not adopted, nothing made
    assert len(fake.requests_to("POST", "/branches")) == 1  # not sent again either


def test_a_new_branch_of_the_same_name_from_another_parent_is_never_adopted(
    fake: FakeNeon, client: NeonClient
) -> None:
    other_parent = fake.add_branch("elsewhere")
    fake.advance(5)  # made after our request started, but from another parent
    foreign = fake.add_branch("racing", parent_id=other_parent)
    fake.fail_next(504, method="POST")
    with pytest.raises(NeonError, match="cannot be proven"):
        client.branch_create("racing")
    assert fake.branch_ids_named("racing") == [foreign]


def test_ours_is_told_apart_from_an_older_namesake(fake: FakeNeon, client: NeonClient) -> None:
    fake.unique_branch_names = False
    foreign = fake.add_branch("twin", created_at=datetime.now(UTC) - timedelta(hours=1))
    fake.fail_next(502, method="POST", after_processing=True)
    result = client.branch_create("twin")
    assert result.reconciled is True and result.branch.id != foreign
    assert sorted(fake.branch_ids_named("twin")) == sorted([foreign, result.branch.id])
    assert len(fake.requests_to("POST", "/branches")) == 1


# ---- ambiguous failures of a restore and a delete ----------------------------------------------


@pytest.mark.parametrize(
    "failure",
    ["502 after processing", "answer dropped"],
)
def test_a_restore_carried_out_before_an_ambiguous_failure_is_not_sent_again(
    fake: FakeNeon, client: NeonClient, failure: str
) -> None:
    branch_id = fake.add_branch("to-reset", with_endpoint=True)
    if failure == "answer dropped":
        fake.drop_answer_next(method="POST", path_contains="/restore")
    else:
        fake.fail_next(502, method="POST", path_contains="/restore", after_processing=True)
    result = client.branch_restore_from_parent(branch_id)
    assert result.branch.id == branch_id and result.branch.last_reset_at is not None
    assert fake.restores_carried_out(branch_id) == 1  # no double restore
    assert len(fake.requests_to("POST", "/restore")) == 1


def test_a_restore_not_carried_out_is_sent_again_when_last_reset_did_not_move(
    fake: FakeNeon, client: NeonClient
) -> None:
    branch_id = fake.add_branch("to-reset")
    fake.fail_next(500, method="POST", path_contains="/restore")
    client.branch_restore_from_parent(branch_id)
    assert fake.restores_carried_out(branch_id) == 1
    assert len(fake.requests_to("POST", "/restore")) == 2


def test_a_restore_of_a_branch_with_children_preserves_it_under_a_name(
    fake: FakeNeon, client: NeonClient
) -> None:
    branch_id = fake.add_branch("has-kids")
    fake.add_branch("kid", parent_id=branch_id)
    with pytest.raises(NeonApiError, match="preserve_under_name"):
        client.branch_restore_from_parent(branch_id)
    assert [b.name for b in client.branch_children(branch_id)] == ["kid"]

    client.branch_restore_from_parent(branch_id, preserve_under_name="has-kids-before")
    assert fake.restores_carried_out(branch_id) == 1
    assert len(fake.branch_ids_named("has-kids-before")) == 1
    assert fake.requests_to("POST", "/restore")[-1].body["preserve_under_name"] == (
        "has-kids-before"
    )


@pytest.mark.parametrize("processed", [True, False], ids=["carried out", "not carried out"])
def test_a_delete_after_an_ambiguous_failure_looks_before_sending_again(
    fake: FakeNeon, client: NeonClient, processed: bool
) -> None:
    branch_id = fake.add_branch("doomed", with_endpoint=True)
    fake.fail_next(502, method="DELETE", after_processing=processed)
    result = client.branch_delete(branch_id)
    assert not fake.has_branch(branch_id) and result.already_gone is False
    assert len(fake.requests_to("DELETE", branch_id)) == (1 if processed else 2)
    assert len(fake.requests_to("GET", branch_id)) == 1  # the look


# ---- errors and secrets ----------------------------------------------------------------------


def test_api_key_and_passwords_never_leak(
    fake: FakeNeon, sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dashboard.branches.neon_client")
    key = fake.api_key
    errors: list[Exception] = []
    with make_client(fake, sleeper, read_timeout=0.3, max_retries=1, locked_wait_seconds=5) as neon:
        assert key not in repr(neon)
        created = neon.branch_create("secretive")
        neon.connection_uri(created.branch.id, "neondb", "neondb_owner", pooled=False)
        password = fake.role_password(created.branch.id)

        failures = [
            lambda: fake.fail_next(
                500, times=2, message=f"token {key} rejected for postgresql://a:{password}@h"
            ),
            lambda: fake.fail_next(423, times=1000),  # waited out for 5 s, then reported
            lambda: fake.delay_next(1.0, times=2),
        ]
        for inject in failures:
            fake.clear_faults()
            inject()
            with pytest.raises((NeonApiError, NeonTimeoutError)) as err:
                neon.branches_list()
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
