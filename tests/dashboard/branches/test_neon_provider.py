"""NeonProvider against the fake Neon server: states, waiting, errors as sentences, secrets."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dashboard.branches.neon_client import NeonClient
from dashboard.branches.neon_console_copy import DatabaseAddress
from dashboard.branches.neon_provider import NeonProvider, branch_role_name
from dashboard.branches.provider import CREATING, READY, UNKNOWN, BranchError, get_provider
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    neon_settings,
    virtual_time,
)
from tests.fakes.neon_server import FakeNeon


def make_provider(
    fake: FakeNeon,
    time: VirtualTime,
    *,
    console_database: DatabaseAddress | None = None,
    target_database: DatabaseAddress | None = None,
    **client_options: Any,
) -> NeonProvider:
    options: dict[str, Any] = {
        "base_url": fake.base_url,
        "sleep": time.sleep,
        "clock": time.clock,
        "rng": random.Random(7),
        "read_timeout": 2.0,
        "transport": httpx.HTTPTransport(verify=False),
        **client_options,
    }
    client = NeonClient(fake.api_key, fake.project_id, **options)
    return NeonProvider(
        client,
        poll_interval=1.0,
        sleep=time.sleep,
        clock=time.clock,
        console_database=console_database,
        target_database=target_database,
    )


@pytest.fixture
def provider(fake: FakeNeon, virtual_time: VirtualTime) -> Iterator[NeonProvider]:
    neon = make_provider(fake, virtual_time)
    yield neon
    neon.close()


# ---- the happy path ------------------------------------------------------------------------


def test_create_then_wait_until_ready_follows_the_operations(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 3.0
    notes: list[str] = []
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    created = provider.create_branch(
        "dev-happy", parent_id=fake.default_branch_id, expires_at=expires, progress=notes.append
    )

    assert (created.state, created.raw_state) == (CREATING, "init")
    assert created.parent_id == fake.default_branch_id
    assert created.expires_at == expires
    (create_request,) = fake.requests_to("POST", "/branches")
    assert create_request.body["endpoints"] == [{"type": "read_write"}]  # a compute comes with it
    assert notes == [
        f"Neon accepted branch dev-happy ({created.id}); operations: create_timeline, start_compute"
    ]

    ready = provider.wait_until_ready(created.id, deadline_seconds=60, progress=notes.append)

    assert (ready.state, ready.raw_state, ready.name) == (READY, "ready", "dev-happy")
    assert ready.parent_name == "main"
    assert ready.size_bytes == 30 * 1024 * 1024
    assert ready.is_default is False
    # Operations were polled once a second on virtual time: scheduling -> running -> finished.
    assert virtual_time.calls == [1.0, 1.0, 1.0]
    timeline = [n for n in notes if n.startswith("Neon operation create_timeline")]
    assert timeline == [
        "Neon operation create_timeline: scheduling",
        "Neon operation create_timeline: running",
        "Neon operation create_timeline: finished",
    ]
    assert notes[-1] == "Branch dev-happy is ready"


def test_list_marks_the_default_branch_and_names_parents(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    child = fake.add_branch("feature-x")
    grandchild = fake.add_branch("feature-x-fix", parent_id=child)

    branches = {b.name: b for b in provider.list_branches()}

    assert set(branches) == {"main", "feature-x", "feature-x-fix"}
    assert branches["main"].is_default and not branches["feature-x"].is_default
    assert branches["main"].parent_id is None
    assert branches["feature-x"].parent_name == "main"
    assert branches["feature-x-fix"].parent_id == child
    assert branches["feature-x-fix"].parent_name == "feature-x"
    assert branches["feature-x-fix"].id == grandchild
    assert all(b.state == READY and b.created_at is not None for b in branches.values())


def test_point_in_time_and_schema_only_are_sent_to_neon(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    branch = provider.create_branch(
        "pitr", parent_id=fake.default_branch_id, point_in_time=when, schema_only=True
    )
    (request,) = fake.requests_to("POST", "/branches")
    assert request.body["branch"]["parent_timestamp"] == "2026-01-02T03:04:05Z"
    assert request.body["branch"]["init_source"] == "schema-only"
    assert branch.extra["schema_only"] is True


def test_connection_urls_reveal_a_role_made_for_the_branch_alone(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 3.0  # the role's apply_config is waited for
    branch_id = fake.add_branch("connect-me", with_endpoint=True)
    owner_password = fake.role_password(branch_id)
    assert owner_password == fake.role_password(fake.default_branch_id)  # shared with main

    urls = provider.connection_urls(branch_id)

    role = branch_role_name(branch_id)
    password = fake.role_password(branch_id, role)
    assert urls.role == role and role.startswith("sd_br_")
    assert urls.pooled.startswith(f"postgresql://{role}:{password}@ep-")
    assert "-pooler." in urls.pooled and "-pooler." not in urls.direct
    assert urls.direct.endswith("/neondb?sslmode=require")
    assert owner_password not in urls.pooled + urls.direct and password != owner_password
    # The parent has no such role: the revealed login fails there.
    assert role not in fake.role_names(fake.default_branch_id)
    (created,) = fake.requests_to("POST", "/roles")
    assert created.body == {"role": {"name": role}}
    assert sum(virtual_time.calls) >= 3.0  # waited for Neon to apply the role

    assert provider.connection_urls(branch_id) == urls  # the role is made once
    assert len(fake.requests_to("POST", "/roles")) == 1
    # The masked strings name the same role and create nothing.
    shape = provider.connection_urls_without_password(branch_id)
    assert shape.direct == urls.direct.replace(f":{password}@", "@")


def test_a_role_copied_from_the_parent_is_never_revealed(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    parent = fake.add_branch("parent", with_endpoint=True)
    provider.connection_urls(parent)
    # A child made now copies the parent's roles, passwords included; a role named for the
    # child on the parent would be copied too: the reveal refuses it.
    child = fake.add_branch("child", parent_id=parent, with_endpoint=True)
    assert fake.role_password(child, branch_role_name(parent)) == fake.role_password(
        parent, branch_role_name(parent)
    )
    child_urls = provider.connection_urls(child)
    assert fake.role_password(parent, branch_role_name(parent)) not in child_urls.direct
    assert child_urls.role == branch_role_name(child) != branch_role_name(parent)

    # A role named for the grandchild exists on its parent (made by hand, then copied).
    grandchild = fake.add_branch("grandchild", parent_id=child, with_endpoint=True)
    fake.set_role(child, branch_role_name(grandchild), "shared-secret")
    fake.set_role(grandchild, branch_role_name(grandchild), "shared-secret")
    with pytest.raises(BranchError, match="would open the parent too"):
        provider.connection_urls(grandchild)


def test_a_reveal_names_the_copy_of_the_consoles_own_database(
    fake: FakeNeon, virtual_time: VirtualTime
) -> None:
    main = fake.default_branch_id
    # The console's database was made on the target's Neon compute (as `connect` does), so
    # every branch made from main since holds a copy of it.
    fake.add_database(main, "schemadesk")
    host = fake.endpoint_host(main)
    provider = make_provider(
        fake,
        virtual_time,
        console_database=DatabaseAddress(host, 5432, "schemadesk"),
        target_database=DatabaseAddress(host, 5432, "neondb"),
    )
    branch_id = fake.add_branch("copies-the-console", with_endpoint=True)

    urls = provider.connection_urls(branch_id)

    assert urls.direct.endswith("/neondb?sslmode=require")  # the target's copy is revealed
    assert "Branch copies-the-console also holds schemadesk, copied from its parent." in (
        urls.warning
    )
    assert "REVOKE CONNECT ON DATABASE schemadesk FROM PUBLIC" in urls.warning
    assert "schemadesk is a copy of the console's own database" in urls.warning
    assert "password hashes" in urls.warning and fake.project_id in urls.warning
    # The same compute: nothing to ask Neon.
    assert not fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")
    provider.close()


def test_a_console_database_on_another_branch_of_the_project_is_found_through_the_api(
    fake: FakeNeon, virtual_time: VirtualTime
) -> None:
    main = fake.default_branch_id
    console_branch = fake.add_branch("console", with_endpoint=True)
    fake.add_database(console_branch, "schemadesk")
    provider = make_provider(
        fake,
        virtual_time,
        # Behind the pooler: the same compute as its direct host.
        console_database=DatabaseAddress.from_url(
            "postgresql://x@"
            + fake.endpoint_host(console_branch).replace(".", "-pooler.", 1)
            + "/schemadesk"
        ),
        target_database=DatabaseAddress(fake.endpoint_host(main), 5432, "neondb"),
    )
    child = fake.add_branch("from-the-console-branch", parent_id=console_branch, with_endpoint=True)

    warning = provider.connection_urls(child).warning

    assert "schemadesk is a copy of the console's own database (on Neon compute" in warning
    assert f"of branch {console_branch}, in project {fake.project_id})" in warning
    assert len(fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")) == 1
    provider.close()


@pytest.mark.parametrize(
    "console_host", ["db.example.com", "ep-elsewhere-123456.us-east-2.aws.neon.tech"]
)
def test_a_database_merely_named_like_the_consoles_is_listed_not_called_the_consoles(
    fake: FakeNeon, virtual_time: VirtualTime, console_host: str
) -> None:
    main = fake.default_branch_id
    fake.add_database(main, "schemadesk")
    fake.add_database(main, 'Weird "Name"')
    provider = make_provider(
        fake,
        virtual_time,
        console_database=DatabaseAddress(console_host, 5432, "schemadesk"),
        target_database=DatabaseAddress(fake.endpoint_host(main), 5432, "neondb"),
    )
    branch_id = fake.add_branch("lookalike", with_endpoint=True)

    warning = provider.connection_urls(branch_id).warning

    assert 'also holds schemadesk, Weird "Name", copied' in warning
    assert 'REVOKE CONNECT ON DATABASE schemadesk, "Weird ""Name""" FROM PUBLIC' in warning
    assert "console's own database" not in warning
    provider.close()


def test_a_branch_with_one_database_reveals_without_a_warning(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    branch_id = fake.add_branch("alone", with_endpoint=True)
    assert provider.connection_urls(branch_id).warning == ""


def test_migrations_use_the_owner_role_which_is_never_revealed(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    branch_id = fake.add_branch("migrate-me", with_endpoint=True)
    url = provider.migration_url(branch_id)
    assert url.startswith(f"postgresql://neondb_owner:{fake.role_password(branch_id)}@ep-")
    assert "-pooler." not in url
    assert not fake.requests_to("POST", "/roles")


def test_connection_urls_without_a_compute_say_what_to_do(
    fake: FakeNeon, provider: NeonProvider
) -> None:
    branch_id = fake.add_branch("no-compute", with_endpoint=False)
    with pytest.raises(BranchError, match="has no read-write compute"):
        provider.connection_urls(branch_id)


def test_reset_restores_from_the_parent_and_waits(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    branch_id = fake.add_branch("to-reset", with_endpoint=True)
    fake.set_schema(branch_id, "CREATE TABLE scratch (id int);\n")
    fake.operation_duration = 2.0
    notes: list[str] = []

    branch = provider.reset_branch(branch_id, progress=notes.append)

    (restore,) = fake.requests_to("POST", "/restore")
    assert restore.body == {"source_branch_id": fake.default_branch_id}
    assert branch.state == READY and branch.extra["last_reset_at"] is not None
    assert notes[0].startswith("Neon is resetting to-reset from its parent; operations: ")
    assert "Neon operation create_timeline: finished" in notes
    assert provider.schema_diff(branch_id) == ""  # the scratch table is gone


def test_schema_diff_against_the_parent(fake: FakeNeon, provider: NeonProvider) -> None:
    branch_id = fake.add_branch("diverged")
    fake.set_schema(
        branch_id,
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE audit (id bigint);\n",
    )

    diff = provider.schema_diff(branch_id)

    assert "+CREATE TABLE audit (id bigint);" in diff
    (compare,) = fake.requests_to("GET", "/compare_schema")
    assert compare.query == {"db_name": "neondb", "base_branch_id": fake.default_branch_id}

    with pytest.raises(BranchError, match="has no parent branch"):
        provider.schema_diff(fake.default_branch_id)


# ---- Neon being busy, slow or broken ---------------------------------------------------------


def test_locked_project_is_retried_and_the_create_succeeds(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 2.0
    provider.create_branch("first")
    second = provider.create_branch("second")  # 423 until the first one's operations finish

    assert second.name == "second"
    assert len(fake.requests_to("POST", "/branches")) >= 3
    assert sum(virtual_time.calls) >= 2.0


def test_rate_limit_backs_off_as_neon_asks(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.fail_next(429, times=2, retry_after=3)
    branches = provider.list_branches()
    assert [b.name for b in branches] == ["main"]
    assert virtual_time.calls == [3.0, 3.0]


@pytest.mark.parametrize(
    ("status", "sentence", "requests"),
    [
        # A 423 is waited out by time (locked_wait_seconds, 0 here), not by max_retries.
        (423, "Neon is busy with another operation on this project (423 LOCKED); try again", 1),
        (429, "Neon is rate limiting this API key (429 RATE_LIMITED); wait a minute", 3),
        (503, "Neon had a problem on its side (503 SERVICE_UNAVAILABLE); try again in a few", 3),
    ],
)
def test_persistent_failures_become_sentences_and_logged_details(
    fake: FakeNeon,
    virtual_time: VirtualTime,
    caplog: pytest.LogCaptureFixture,
    status: int,
    sentence: str,
    requests: int,
) -> None:
    fake.fail_next(status, times=10, retry_after=0.01)
    provider = make_provider(fake, virtual_time, max_retries=2, locked_wait_seconds=0)
    with pytest.raises(BranchError) as err:
        provider.list_branches()
    request_id = fake.requests_to("GET", "/branches")[-1].request_id
    assert err.value.sentence.startswith(sentence)
    assert err.value.sentence.endswith(f"request id: {request_id}")
    assert str(status) in err.value.detail and request_id in err.value.detail
    assert "Traceback" not in err.value.sentence
    assert len(fake.requests_to("GET", "/branches")) == requests  # retries, then the sentence


def test_timeout_becomes_a_sentence(fake: FakeNeon, virtual_time: VirtualTime) -> None:
    fake.delay_next(1.0, times=5)
    provider = make_provider(fake, virtual_time, read_timeout=0.2, max_retries=1)
    with pytest.raises(BranchError) as err:
        provider.get_branch(fake.default_branch_id)
    assert err.value.sentence.startswith("Neon did not answer within 0.2 seconds")
    assert "try again in a moment" in err.value.sentence


def test_wrong_api_key_says_to_check_it(fake: FakeNeon, virtual_time: VirtualTime) -> None:
    client = NeonClient("not-the-key", fake.project_id, base_url=fake.base_url)
    provider = NeonProvider(client, sleep=virtual_time.sleep, clock=virtual_time.clock)
    with pytest.raises(BranchError) as err:
        provider.list_branches()
    assert "did not accept the API key" in err.value.sentence
    assert "check NEON_API_KEY" in err.value.sentence
    assert "not-the-key" not in err.value.sentence + err.value.detail


def test_failed_operation_fails_the_wait_with_a_sentence(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 5.0
    branch = provider.create_branch("doomed")
    fake.fail_operations("pageserver unavailable")
    with pytest.raises(BranchError) as err:
        provider.wait_until_ready(branch.id, deadline_seconds=60)
    assert "failed (failed: pageserver unavailable)" in err.value.sentence
    assert "Delete the branch and try again" in err.value.sentence


def test_deadline_passes_while_neon_is_still_working(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 600.0
    branch = provider.create_branch("slow")
    with pytest.raises(BranchError) as err:
        provider.wait_until_ready(branch.id, deadline_seconds=10)
    assert err.value.sentence.startswith(f"Branch {branch.id} was not ready after 10 seconds")
    assert "2 Neon operation(s) unfinished" in err.value.sentence
    assert sum(virtual_time.calls) == 10.0


def test_unknown_enum_values_are_kept_not_fatal(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.add_branch("odd")
    fake.unknown_enum_mode(branch_state="hibernating", operation_status="paused")

    listed = {b.name: b for b in provider.list_branches()}
    assert (listed["odd"].state, listed["odd"].raw_state) == (UNKNOWN, "hibernating")
    assert listed["odd"].extra["known_state"] is False

    branch = provider.create_branch("odd-create")
    notes: list[str] = []
    with pytest.raises(BranchError, match="was not ready after 3 seconds"):
        provider.wait_until_ready(branch.id, deadline_seconds=3, progress=notes.append)
    assert "Neon operation create_timeline: paused (unknown to this console)" in notes


def test_a_new_provider_without_the_operations_waits_on_the_branch_and_compute(
    fake: FakeNeon, virtual_time: VirtualTime, provider: NeonProvider
) -> None:
    fake.operation_duration = 2.0
    branch = provider.create_branch("elsewhere")
    other = make_provider(fake, virtual_time)  # e.g. another worker process
    notes: list[str] = []
    ready = other.wait_until_ready(branch.id, deadline_seconds=30, progress=notes.append)
    assert ready.state == READY
    assert notes[0] == "Branch elsewhere is init (becoming ready)"
    assert notes[-1] == "Branch elsewhere is ready"


# ---- delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("missing_status", [204, 404])
def test_delete_of_a_branch_already_gone_is_success(
    fake: FakeNeon, provider: NeonProvider, missing_status: int
) -> None:
    fake.delete_missing_status = missing_status
    branch_id = fake.add_branch("short-lived", with_endpoint=True)
    provider.delete_branch(branch_id)
    assert not fake.has_branch(branch_id)
    provider.delete_branch(branch_id)  # already gone: no error
    assert len(fake.requests_to("DELETE", branch_id)) == 2


# ---- settings and secrets -------------------------------------------------------------------


def test_from_settings_needs_the_key_and_the_project(
    neon_settings: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeNeon
) -> None:
    provider = get_provider()
    assert isinstance(provider, NeonProvider)
    assert provider.project_id == fake.project_id
    assert fake.api_key not in repr(provider)
    assert [b.name for b in provider.list_branches()] == ["main"]

    monkeypatch.delenv("NEON_API_KEY")
    with pytest.raises(BranchError, match="NEON_API_KEY is not set"):
        get_provider()

    monkeypatch.setenv("NEON_API_KEY", fake.api_key)
    neon_settings.NEON_PROJECT_ID = ""
    with pytest.raises(BranchError, match="NEON_PROJECT_ID is not set"):
        get_provider()


def test_neither_the_key_nor_a_password_is_logged(
    fake: FakeNeon, virtual_time: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_provider(
        fake, virtual_time, max_retries=1, read_timeout=0.2, locked_wait_seconds=0
    )
    fake.operation_duration = 2.0
    branch = provider.create_branch("secretive")
    provider.wait_until_ready(branch.id, deadline_seconds=30, progress=logging.getLogger().info)
    urls = provider.connection_urls(branch.id)
    password = fake.role_password(branch.id, branch_role_name(branch.id))
    assert password in urls.direct

    sentences = []
    fake.fail_next(500, times=2, message=f"key {fake.api_key} rejected postgres://a:{password}@h")
    fake.fail_next(423, times=2)
    fake.delay_next(1.0, times=2)
    for _ in range(3):
        with pytest.raises(BranchError) as err:
            provider.list_branches()
        sentences.append(err.value.sentence + err.value.detail)
        logging.getLogger("test").warning("%s", err.value.detail)
    provider.delete_branch(branch.id)

    assert caplog.records
    for secret in (fake.api_key, password):
        assert secret not in caplog.text
        assert all(secret not in text for text in sentences)
