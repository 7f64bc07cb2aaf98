"""The branches services on their own: masking, ordering, refusals, diffs, the provider summary."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.http import Http404

from dashboard.branches import services
from dashboard.branches.models import BranchRequest
from dashboard.branches.provider import CREATING, READY, BranchInfo
from dashboard.jobs.models import JobRun
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.fakes.neon_server import FakeNeon


def branch(name: str, **fields: Any) -> BranchInfo:
    return BranchInfo(id=f"br-{name}", name=name, state=fields.pop("state", READY), **fields)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://neondb_owner:s3cr%40t@ep-x-pooler.neon.tech/neondb?sslmode=require",
            "postgresql://neondb_owner:********@ep-x-pooler.neon.tech/neondb?sslmode=require",
        ),
        (
            "postgresql://todo_owner:pw:with:colons@127.0.0.1:5433/db__br__x",
            "postgresql://todo_owner:********@127.0.0.1:5433/db__br__x",
        ),
        # No password in it (the masked strings are built without one): the mask stands in.
        ("postgresql://nopassword@host/db", "postgresql://nopassword:********@host/db"),
    ],
)
def test_masked_url_hides_only_the_password(url: str, masked: str) -> None:
    assert services.masked_url(url) == masked


def test_branches_are_listed_default_first_then_newest() -> None:
    now = datetime.now(UTC)
    ordered = services._sorted(
        [
            branch("old", created_at=now - timedelta(days=3)),
            branch("main", created_at=now - timedelta(days=30), is_default=True),
            branch("undated"),
            branch("new", created_at=now),
        ]
    )
    assert [b.name for b in ordered] == ["main", "new", "old", "undated"]


def test_delete_and_reset_refusals() -> None:
    assert "is the default branch" in services.action_refusal(
        branch("main", is_default=True), "delete"
    )
    assert "protected on Neon" in services.action_refusal(
        branch("prod", parent_id="br-main", extra={"protected": True}), "delete"
    )
    assert "no parent branch to reset from" in services.action_refusal(branch("root"), "reset")
    assert services.action_refusal(branch("dev", parent_id="br-main"), "reset") == ""
    assert services.action_refusal(branch("dev"), "delete") == ""


def test_schema_diff_lines_are_classified() -> None:
    diff = services.SchemaDiff(
        branch_id="br-x",
        supported=True,
        diff=(
            "--- a\n+++ b\n@@ -1 +1,2 @@\n CREATE TABLE users ();\n+CREATE TABLE audit ();\n-DROP\n"
        ),
    )
    assert [kind for kind, _ in diff.lines] == ["file", "file", "hunk", "context", "add", "remove"]


def test_branch_ids_are_checked_before_anything_is_asked() -> None:
    assert services.check_branch_id("br-cool-sky-123456") == "br-cool-sky-123456"
    assert services.check_branch_id("schemadesk__br__dev-1") == "schemadesk__br__dev-1"
    for bad in ("", "../etc", "br x", "-leading", "x" * 129):
        with pytest.raises(Http404):
            services.check_branch_id(bad)


def test_provider_summary_never_contacts_the_provider(settings: Any) -> None:
    settings.BRANCH_PROVIDER = "neon"
    settings.NEON_PROJECT_ID = "cool-sky-12345678"
    neon = services.provider_summary()
    assert (neon.label, neon.location, neon.is_neon) == ("Neon", "project cool-sky-12345678", True)
    assert neon.supports_point_in_time and neon.supports_reset and neon.supports_schema_diff

    settings.BRANCH_PROVIDER = "local"
    local = services.provider_summary()
    assert local.label == "Local clones" and not local.supports_point_in_time
    assert local.location.endswith("/schemadesk_test")  # host:port/db, no user or password
    assert "@" not in local.location


@pytest.mark.django_db
def test_branch_list_marks_creating_while_a_request_is_unfinished(
    fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    page = services.branch_list()
    assert [b.name for b in page.branches] == ["main"] and not page.creating

    run = JobRun.objects.create(kind="branch_create")
    BranchRequest.objects.create(action="create", provider="neon", branch_name="x", job_run=run)
    assert services.branch_list().creating

    run.succeed({})
    assert not services.branch_list().creating
    assert services.BranchList(
        provider=page.provider, branches=[branch("y", state=CREATING)]
    ).creating


@pytest.mark.django_db
def test_branch_job_is_stale_only_long_after_the_deadline(settings: Any) -> None:
    settings.BRANCH_READY_DEADLINE_SECONDS = 300
    run = JobRun.objects.create(kind="branch_reset")
    job = services.branch_job(run.pk)
    assert (job.action, job.polling, job.stale) == ("reset", True, False)

    JobRun.objects.filter(pk=run.pk).update(
        created_at=datetime.now(UTC) - timedelta(seconds=300 + services.PROGRESS_GRACE_SECONDS + 1)
    )
    job = services.branch_job(run.pk)
    assert job.stale and not job.polling

    run.refresh_from_db()
    run.fail("boom")
    assert not services.branch_job(run.pk).stale  # finished jobs are never stale
