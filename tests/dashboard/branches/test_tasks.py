"""Branch jobs end to end: started by the pages, run by the real procrastinate worker, on the
fake Neon (operations move scheduling -> running -> finished on virtual time)."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.branches.models import BranchRequest
from dashboard.jobs.models import JobRun
from dashboard.jobs.worker import run_until_idle
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.fakes.neon_server import FakeNeon

pytestmark = pytest.mark.django_db(transaction=True)


def operation_statuses(run: JobRun, action: str) -> list[str]:
    prefix = f"Neon operation {action}: "
    return [
        line["message"].removeprefix(prefix)
        for line in run.progress
        if line["message"].startswith(prefix)
    ]


def start_create(client: Client, fake: FakeNeon, name: str, **fields: str) -> JobRun:
    response = client.post(
        "/branches/new/", {"name": name, "parent": fake.default_branch_id, **fields}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = BranchRequest.objects.get(action="create", branch_name=name).job_run
    assert run is not None
    assert response["Location"] == f"/branches/jobs/{run.pk}/"
    return run


def test_create_job_follows_the_operations_until_the_branch_is_ready(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    fake.operation_duration = 3.0
    run = start_create(engineer_client, fake, "job-happy", expires_in="1d")
    assert run.status == "queued"

    run_until_idle()

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert operation_statuses(run, "create_timeline") == ["scheduling", "running", "finished"]
    assert operation_statuses(run, "start_compute") == ["scheduling", "running", "finished"]
    messages = [line["message"] for line in run.progress]
    assert messages[0] == "Asking Neon for branch job-happy"
    assert messages[-1] == "Branch job-happy is ready"
    (branch_id,) = fake.branch_ids_named("job-happy")
    assert run.result == {"branch_id": branch_id, "branch_name": "job-happy", "state": "ready"}
    asked = BranchRequest.objects.get(job_run=run)
    assert (asked.action, asked.provider, asked.branch_id) == ("create", "neon", branch_id)
    # The expiry chosen in the form reached Neon.
    (create,) = fake.requests_to("POST", "/branches")
    assert create.body["branch"]["expires_at"].startswith(asked.options["expires_at"][:13])

    # The progress page of the finished job links to the new branch.
    page = engineer_client.get(f"/branches/jobs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert f'href="/branches/{branch_id}/"' in page.content.decode()
    assert "hx-trigger" not in page.content.decode()  # finished: no more polling


def test_create_job_waits_out_a_locked_project(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    fake.fail_next(423, times=2, method="POST", path_contains="/branches")
    run = start_create(engineer_client, fake, "after-lock")

    run_until_idle()

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert len(fake.requests_to("POST", "/branches")) == 3
    assert len(neon_virtual_time.calls) >= 2


def test_create_job_fails_with_a_sentence_when_an_operation_fails(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    fake.operation_duration = 10.0
    run = start_create(engineer_client, fake, "doomed")
    original_sleep = neon_virtual_time.sleep

    def sleep_then_break(seconds: float) -> None:
        original_sleep(seconds)
        fake.fail_operations("pageserver unavailable")

    neon_virtual_time.sleep = sleep_then_break  # type: ignore[method-assign]

    run_until_idle()

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("Neon operation create_timeline failed (failed: pageserver")
    assert "Traceback" not in run.error


def test_create_job_gives_up_at_the_deadline(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    neon_settings.BRANCH_READY_DEADLINE_SECONDS = 5
    fake.operation_duration = 600.0
    run = start_create(engineer_client, fake, "too-slow")

    run_until_idle()

    run.refresh_from_db()
    (branch_id,) = fake.branch_ids_named("too-slow")
    assert run.status == "failed"
    assert run.error.startswith(f"Branch {branch_id} was not ready after 5 seconds")
    assert sum(neon_virtual_time.calls) == 5.0
    # The request still names the branch, so the operator can find and delete it.
    assert BranchRequest.objects.get(job_run=run).branch_id == branch_id


def test_job_without_an_api_key_fails_with_what_to_do(
    engineer_client: Client,
    fake: FakeNeon,
    neon_settings: Any,
    neon_virtual_time: VirtualTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = start_create(engineer_client, fake, "no-key")
    monkeypatch.delenv("NEON_API_KEY")  # e.g. the worker was started without it

    run_until_idle()

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("NEON_API_KEY is not set")


def test_delete_job_deletes_and_a_branch_already_gone_counts_as_deleted(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    doomed = fake.add_branch("to-delete", with_endpoint=True)
    vanishing = fake.add_branch("vanishing")

    for branch_id, name in ((doomed, "to-delete"), (vanishing, "vanishing")):
        response = engineer_client.post(f"/branches/{branch_id}/delete/", {"confirm": name})
        assert response.status_code == 302
    fake.requests.clear()
    # Someone deleted "vanishing" in the Neon console before the worker got to it.
    with fake._lock:
        del fake._branches[vanishing]

    run_until_idle()

    runs = JobRun.objects.filter(kind="branch_delete").order_by("pk")
    assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.error for r in runs]
    assert not fake.has_branch(doomed)
    assert runs[0].result == {"branch_id": doomed, "branch_name": "to-delete", "state": "deleted"}
    assert len(fake.requests_to("DELETE")) == 2
    assert AuditEvent.objects.filter(action="branch.delete").count() == 2


def test_reset_job_restores_from_the_parent(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    branch_id = fake.add_branch("to-reset", with_endpoint=True)
    fake.operation_duration = 2.0
    response = engineer_client.post(f"/branches/{branch_id}/reset/", {"confirm": "on"})
    assert response.status_code == 302

    run_until_idle()

    run = JobRun.objects.get(kind="branch_reset")
    assert run.status == "succeeded", run.error
    (restore,) = fake.requests_to("POST", "/restore")
    assert restore.body == {"source_branch_id": fake.default_branch_id}
    assert operation_statuses(run, "create_timeline")[-1] == "finished"
    assert run.result["state"] == "ready"


def test_reset_of_a_branch_with_children_asks_for_a_name_to_preserve_it_under(
    engineer_client: Client, fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime
) -> None:
    branch_id = fake.add_branch("parent-dev", with_endpoint=True)
    fake.add_branch("child-dev", parent_id=branch_id)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = engineer_client.get(f"/branches/{branch_id}/reset/", **headers)
        assert "It has child branches (child-dev)" in page.content.decode()
        assert 'value="parent-dev-before-reset"' in page.content.decode()

    missing = engineer_client.post(
        f"/branches/{branch_id}/reset/", {"confirm": "on", "preserve_under_name": " "}
    )
    assert "Name the branch that keeps the current state" in missing.content.decode()
    assert not JobRun.objects.exists()

    response = engineer_client.post(
        f"/branches/{branch_id}/reset/", {"confirm": "on", "preserve_under_name": "kept-dev"}
    )
    assert response.status_code == 302
    run_until_idle()

    run = JobRun.objects.get(kind="branch_reset")
    assert run.status == "succeeded", run.error
    (restore,) = fake.requests_to("POST", "/restore")
    assert restore.body == {
        "source_branch_id": fake.default_branch_id,
        "preserve_under_name": "kept-dev",
    }
    assert len(fake.branch_ids_named("kept-dev")) == 1
    event = AuditEvent.objects.get(action="branch.reset")
    assert event.detail["preserve_under_name"] == "kept-dev"


def test_jobs_log_neither_the_key_nor_a_password(
    engineer_client: Client,
    fake: FakeNeon,
    neon_settings: Any,
    neon_virtual_time: VirtualTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.operation_duration = 2.0
    fake.fail_next(503, times=1, method="GET", path_contains="/operations/")
    run = start_create(engineer_client, fake, "quiet")
    run_until_idle()
    failing = start_create(engineer_client, fake, "noisy")
    fake.fail_next(500, times=20, method="POST", path_contains="/branches")
    run_until_idle()

    run.refresh_from_db()
    failing.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert failing.status == "failed" and "Neon had a problem on its side" in failing.error
    password = fake.role_password(run.result["branch_id"])
    for secret in (fake.api_key, password):
        assert secret not in caplog.text
        for job in (run, failing):
            assert secret not in str(job.progress) + job.error + str(job.result)
