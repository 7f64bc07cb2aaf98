"""“As of <time>” against the fake Neon: parent_timestamp sent, the branch waited for,
compared, and deleted afterwards (it expires after TIME_MACHINE_BRANCH_TTL_SECONDS) unless an
engineer keeps it; the project's history window told and enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from dashboard.branches.models import BranchRequest
from dashboard.jobs.models import JobRun
from dashboard.jobs.worker import run_until_idle
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 (fixtures)
    fake,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.dashboard.tm_world import ALICE, ALICE_TASKS, World, target
from tests.dashboard.users.test_compare_views import with_reason
from tests.fakes.neon_server import FakeNeon

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def neon_world(tm: World, fake: FakeNeon, neon_settings, neon_virtual_time) -> FakeNeon:  # noqa: F811
    """The console on the fake Neon, whose branches' data is the world's snapshot database."""
    fake.serve_data_from(tm.provider.migration_url(tm.branch_id))
    return fake


def test_as_of_makes_a_point_in_time_branch_compares_and_deletes_it(
    support_client: Client, neon_world: FakeNeon
):
    client = with_reason(support_client)
    chooser = client.get(f"/users/u/{ALICE}/compare/").content.decode()
    assert "This project keeps 1 day of history" in chooser

    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[0],))  # what the ticket is about
    when = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": when.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302 and "?job=" in response["Location"]
    progress = client.get(response["Location"]).content.decode()
    assert 'id="tm-job"' in progress and 'hx-trigger="every 1s"' in progress

    run_until_idle()
    run = JobRun.objects.get(kind="branch_create")
    assert run.status == "succeeded", run.error
    [created] = neon_world.requests_to("POST", "/branches")
    assert created.body["branch"]["parent_timestamp"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created.body["branch"]["parent_id"] == neon_world.default_branch_id
    assert created.body["branch"]["expires_at"]  # deleted afterwards unless kept
    branch_id = run.result["branch_id"]

    done = client.get(response["Location"], HTTP_HX_REQUEST="true")
    compare_url = done["HX-Redirect"]
    assert f"branch={branch_id}" in compare_url and "as_of=" in compare_url
    page = client.get(compare_url).content.decode()
    assert 'id="rows-tasks-deleted"' in page and 'data-count="1"' in page
    assert "(Neon point in time)" in page and "Done: delete this branch now" in page

    response = client.post(f"/users/u/{ALICE}/compare/done/", {"branch": branch_id})
    assert response.status_code == 302
    run_until_idle()
    assert JobRun.objects.get(kind="branch_delete").status == "succeeded"
    assert not neon_world.has_branch(branch_id)
    assert BranchRequest.objects.filter(branch_id=branch_id, action="delete").exists()


def test_a_time_outside_the_history_window_is_refused_with_the_window(
    support_client: Client, neon_world: FakeNeon
):
    client = with_reason(support_client)
    when = datetime.now(UTC) - timedelta(days=2)
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": when.strftime("%Y-%m-%dT%H:%M")}
    )
    page = client.get(response["Location"]).content.decode()
    assert "Neon keeps this project&#x27;s history for 1 day: the earliest time is" in page
    assert neon_world.requests_to("POST", "/branches") == []
    assert not JobRun.objects.exists()


def test_a_branch_not_made_for_a_comparison_is_not_deleted_from_here(
    support_client: Client, neon_world: FakeNeon
):
    client = with_reason(support_client)
    branch_id = neon_world.add_branch("feature-x", with_endpoint=True)
    response = client.post(f"/users/u/{ALICE}/compare/done/", {"branch": branch_id})
    assert response.status_code == 403
    assert neon_world.has_branch(branch_id)


def _as_of(client: Client, hours_ago: int = 3, **extra: str) -> tuple[str, str]:
    """Ask for the data as of a time; run the branch job; return the branch id and the page."""
    when = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(second=0, microsecond=0)
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": when.strftime("%Y-%m-%dT%H:%M"), **extra}
    )
    assert response.status_code == 302 and "?job=" in response["Location"], response
    run_until_idle()
    run = JobRun.objects.get(kind="branch_create")
    assert run.status == "succeeded", run.error
    done = client.get(response["Location"], HTTP_HX_REQUEST="true")
    return str(run.result["branch_id"]), client.get(done["HX-Redirect"]).content.decode()


def test_the_branch_expires_after_the_ttl_setting(
    support_client: Client, neon_world: FakeNeon, settings
):
    settings.TIME_MACHINE_BRANCH_TTL_SECONDS = 1800  # not the default (7200)
    asked_from = datetime.now(UTC).replace(microsecond=0)
    branch_id, page = _as_of(with_reason(support_client))
    asked_until = datetime.now(UTC)

    [created] = neon_world.requests_to("POST", "/branches")
    expires_at = datetime.fromisoformat(created.body["branch"]["expires_at"])
    assert asked_from + timedelta(seconds=1800) <= expires_at
    assert expires_at <= asked_until + timedelta(seconds=1800)
    asked = BranchRequest.objects.get(branch_id=branch_id, action="create")
    assert datetime.fromisoformat(asked.options["expires_at"]).replace(microsecond=0) == (
        expires_at
    )
    assert f"It is deleted automatically at {expires_at:%Y-%m-%d %H:%M} UTC" in page


def test_a_kept_branch_has_no_expiry_and_survives_done(
    engineer_client: Client, neon_world: FakeNeon
):
    client = with_reason(engineer_client)
    chooser = client.get(f"/users/u/{ALICE}/compare/").content.decode()
    assert 'name="keep"' in chooser  # engineers may keep the branch

    branch_id, page = _as_of(client, keep="on")

    [created] = neon_world.requests_to("POST", "/branches")
    assert "expires_at" not in created.body["branch"]  # Neon keeps it until someone deletes it
    asked = BranchRequest.objects.get(branch_id=branch_id, action="create")
    assert asked.options["expires_at"] is None and asked.options["purpose"] == "time machine"
    assert "(Neon point in time)" in page
    assert "deleted automatically" not in page and "Done: delete this branch now" not in page

    response = client.post(f"/users/u/{ALICE}/compare/done/", {"branch": branch_id})
    assert response.status_code == 403
    assert "was not made for a comparison (or is kept)" in response.content.decode()
    run_until_idle()
    assert neon_world.has_branch(branch_id)
    assert neon_world.requests_to("DELETE") == []
    assert not JobRun.objects.filter(kind="branch_delete").exists()


def test_keeping_is_for_engineers_a_support_operators_branch_still_expires(
    support_client: Client, neon_world: FakeNeon
):
    client = with_reason(support_client)
    assert 'name="keep"' not in client.get(f"/users/u/{ALICE}/compare/").content.decode()
    branch_id, page = _as_of(client, keep="on")  # a forged "keep"
    [created] = neon_world.requests_to("POST", "/branches")
    assert created.body["branch"]["expires_at"]
    asked = BranchRequest.objects.get(branch_id=branch_id, action="create")
    assert asked.options["expires_at"]
    assert "Done: delete this branch now" in page


def test_an_as_of_job_whose_worker_stopped_ends_and_the_page_stops_polling(
    support_client: Client, neon_world: FakeNeon, settings
):
    client = with_reason(support_client)
    when = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": when.strftime("%Y-%m-%dT%H:%M")}
    )
    run = JobRun.objects.get(kind="branch_create")
    # The worker took the job, then died: no heartbeat for longer than the timeout.
    silent_since = datetime.now(UTC) - timedelta(
        seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 60
    )
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.RUNNING, started_at=silent_since, heartbeat_at=silent_since
    )

    part = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="failed"' in part and "The worker stopped while creating a branch" in part
    assert "hx-trigger" not in part  # the page stops asking
    assert JobRun.objects.get(pk=run.pk).status == "failed"
