"""Deleting and resetting a branch on the fake Neon: confirmations, jobs, audit, 404."""

# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

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

# ---- delete and reset ----------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_needs_the_name_typed_then_enqueues_and_audits(
    engineer_client: Client, engineer_user: Any, neon: FakeNeon
) -> None:
    branch_id = neon.add_branch("old-experiment", with_endpoint=True)

    confirm = engineer_client.get(f"/branches/{branch_id}/delete/")
    assert confirm.status_code == 200
    assert "Type the branch name to confirm" in text(confirm)
    assert "Delete this branch" in text(confirm)

    wrong = engineer_client.post(f"/branches/{branch_id}/delete/", {"confirm": "old"}, **HTMX)
    assert wrong.status_code == 200
    assert text(wrong).lstrip().startswith('<div id="confirm-panel"')
    assert "That is not the branch&#x27;s name; type old-experiment exactly" in text(wrong)
    assert not JobRun.objects.exists()

    right = engineer_client.post(
        f"/branches/{branch_id}/delete/", {"confirm": "old-experiment"}, **HTMX
    )
    assert right.status_code == 200
    run = JobRun.objects.get(kind="branch_delete")
    assert f'id="branch-job-{run.pk}"' in text(right)
    asked = BranchRequest.objects.get()
    assert (asked.action, asked.branch_id, asked.branch_name) == (
        "delete",
        branch_id,
        "old-experiment",
    )
    event = AuditEvent.objects.get(action="branch.delete")
    assert event.operator == engineer_user
    assert event.detail["branch_id"] == branch_id
    assert event.detail["branch_name"] == "old-experiment"
    assert neon.has_branch(branch_id)  # the worker deletes it
    assert not neon.requests_to("DELETE")


@pytest.mark.django_db
def test_reset_needs_the_box_ticked_then_enqueues_and_audits(
    engineer_client: Client, neon: FakeNeon
) -> None:
    branch_id = neon.add_branch("reset-me", with_endpoint=True)
    page = engineer_client.get(f"/branches/{branch_id}/reset/")
    assert page.status_code == 200 and "current state of its parent, <strong>main" in text(page)

    unticked = engineer_client.post(f"/branches/{branch_id}/reset/", {}, **HTMX)
    assert "Tick the box to confirm the reset." in text(unticked)
    assert not JobRun.objects.exists()

    engineer_client.post(f"/branches/{branch_id}/reset/", {"confirm": "on"}, **HTMX)
    assert JobRun.objects.get().kind == "branch_reset"
    event = AuditEvent.objects.get(action="branch.reset")
    assert event.detail["branch_id"] == branch_id and event.detail["branch_name"] == "reset-me"


@pytest.mark.django_db
def test_delete_of_an_unknown_branch_is_a_404(engineer_client: Client, neon: FakeNeon) -> None:
    response = engineer_client.post("/branches/br-gone/delete/", {"confirm": "x"})
    assert response.status_code == 404
    assert not JobRun.objects.exists()
