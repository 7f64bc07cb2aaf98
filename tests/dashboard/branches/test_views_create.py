"""Creating a branch on the fake Neon: the form, its errors, the job and its progress page."""

# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.branches.models import BranchRequest
from dashboard.jobs.models import JobRun
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.dashboard.branches.views_fixtures import HTMX, neon, text  # noqa: F401 - fixture
from tests.fakes.neon_server import FakeNeon

# ---- create --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_form_offers_the_parents_and_point_in_time(
    engineer_client: Client, neon: FakeNeon
) -> None:
    neon.add_branch("staging")
    page = engineer_client.get("/branches/new/")
    assert page.status_code == 200
    html = text(page)
    assert f'<option value="{neon.default_branch_id}" selected>main (default)</option>' in html
    assert ">staging</option>" in html
    point_in_time = re.search(r'<input type="datetime-local"[^>]*>', html)
    assert point_in_time is not None and "disabled" not in point_in_time.group(0)
    assert 'name="schema_only"' in html and 'name="expires_in"' in html
    assert "Neon deletes the branch by itself once it expires." in html
    assert '<a href="/branches/">Branches</a>' in html
    assert '<span aria-current="page">New branch</span>' in html

    part = engineer_client.get("/branches/new/", **HTMX)
    assert text(part).lstrip().startswith('<div id="create-panel"')


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "Bad Name"}, "Use 1 to 40 lowercase letters, digits and dashes"),
        ({"name": "-dash-first"}, "Use 1 to 40 lowercase letters"),
        ({"name": "x" * 41}, "at most 40 characters"),
        ({"name": "main"}, "A branch named main exists already."),
        ({"name": "ok", "point_in_time": "2999-01-01T00:00"}, "must be in the past"),
        ({"name": "ok", "point_in_time": "yesterday"}, "Enter a valid date/time."),
        ({"name": "ok", "parent": "br-nope"}, "Select a valid choice"),
        ({"name": "ok", "expires_in": "forever"}, "Select a valid choice"),
    ],
)
def test_create_form_errors_are_sentences_and_nothing_starts(
    engineer_client: Client, neon: FakeNeon, fields: dict[str, str], error: str
) -> None:
    data = {"parent": neon.default_branch_id, **fields}
    response = engineer_client.post("/branches/new/", data, **HTMX)
    assert response.status_code == 200
    assert error in text(response).replace("&#x27;", "'")
    assert not JobRun.objects.exists() and not BranchRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="branch.").exists()


@pytest.mark.django_db
def test_create_enqueues_a_job_audits_it_and_returns_the_progress_part(
    engineer_client: Client, engineer_user: Any, neon: FakeNeon
) -> None:
    response = engineer_client.post(
        "/branches/new/",
        {
            "name": "try-migration",
            "parent": neon.default_branch_id,
            "point_in_time": "2026-01-02T03:04",
            "schema_only": "on",
            "expires_in": "7d",
        },
        **HTMX,
    )

    assert response.status_code == 200
    run = JobRun.objects.get()
    html = text(response)
    assert html.lstrip().startswith(f'<div class="card branch-job" id="branch-job-{run.pk}"')
    assert f'hx-get="/branches/jobs/{run.pk}/"' in html and 'hx-trigger="every 1s"' in html
    assert (run.kind, run.status, run.created_by) == ("branch_create", "queued", engineer_user)
    asked = BranchRequest.objects.get()
    assert (asked.branch_name, asked.parent_id, asked.job_run) == (
        "try-migration",
        neon.default_branch_id,
        run,
    )
    assert asked.options["schema_only"] is True
    assert asked.options["point_in_time"].startswith("2026-01-02T03:04:00")
    assert asked.options["expires_at"] is not None
    event = AuditEvent.objects.get(action="branch.create")
    assert event.operator == engineer_user
    assert event.detail["branch_name"] == "try-migration"
    assert event.detail["job_run"] == run.pk and event.detail["provider"] == "neon"
    assert not neon.requests_to("POST", "/branches")  # the worker creates it, not the request


@pytest.mark.django_db
def test_create_without_htmx_redirects_to_the_job_page(
    engineer_client: Client, neon: FakeNeon
) -> None:
    response = engineer_client.post(
        "/branches/new/", {"name": "plain-form", "parent": neon.default_branch_id}
    )
    run = JobRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/branches/jobs/{run.pk}/"
    page = engineer_client.get(response["Location"])
    assert page.status_code == 200
    html = text(page)
    assert "Create branch plain-form" in html and 'data-status="queued"' in html
    assert "Waiting for the worker" in html
    assert '<a href="/branches/">Branches</a>' in html
    assert '<span aria-current="page">Create branch plain-form</span>' in html


@pytest.mark.django_db
def test_job_page_stops_polling_long_after_the_deadline(
    viewer_client: Client, neon: FakeNeon, settings: Any
) -> None:
    run = JobRun.objects.create(kind="branch_create")
    BranchRequest.objects.create(action="create", provider="neon", branch_name="lost", job_run=run)
    assert 'hx-trigger="every 1s"' in text(viewer_client.get(f"/branches/jobs/{run.pk}/", **HTMX))
    settings.BRANCH_READY_DEADLINE_SECONDS = -120  # as if the request were long ago
    html = text(viewer_client.get(f"/branches/jobs/{run.pk}/", **HTMX))
    assert "hx-trigger" not in html and "this page stopped checking" in html


@pytest.mark.django_db
def test_job_page_is_only_for_branch_jobs(viewer_client: Client) -> None:
    other = JobRun.objects.create(kind="health_check")
    response = viewer_client.get(f"/branches/jobs/{other.pk}/")
    assert response.status_code == 404
    assert f"There is no branch job #{other.pk}." in text(response)
