"""Branches in a real browser on the fake Neon: create, watch the progress, reveal, delete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.branches.neon_provider import branch_role_name
from tests.e2e.conftest import worker_in_background
from tests.fakes.neon_server import FakeNeon

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_neon(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNeon]:
    # Operations take 1.5 s of real time, so the page shows them moving before "ready".
    with FakeNeon(operation_duration=1.5) as fake:
        settings.BRANCH_PROVIDER = "neon"
        settings.NEON_API_URL = fake.base_url
        settings.NEON_PROJECT_ID = fake.project_id
        settings.NEON_POLL_INTERVAL_SECONDS = 0.2
        monkeypatch.setenv("NEON_API_KEY", fake.api_key)
        yield fake


def test_create_watch_reveal_and_delete_a_branch(logged_in_page: Any, fake_neon: FakeNeon) -> None:
    page = logged_in_page
    page.goto("/branches/")
    assert page.locator('tr[data-branch="main"] .badge.default').is_visible()
    assert f"project {fake_neon.project_id}" in page.locator(".cards").inner_text()

    page.click("text=New branch")
    page.fill("#id_name", "e2e-try")
    page.select_option("#id_expires_in", "1d")
    page.click("button:has-text('Create branch')")
    job = page.locator(".branch-job")
    job.wait_for()
    assert job.get_attribute("data-status") == "queued"

    worker = worker_in_background()
    page.locator('.branch-job[data-status="succeeded"]').wait_for(timeout=20_000)
    worker.join(timeout=20)
    log = page.locator(".progress-log").inner_text()
    assert "Neon operation create_timeline: running" in log
    assert "Neon operation create_timeline: finished" in log
    assert "Branch e2e-try is ready" in log

    page.click("text=Open the branch")
    page.wait_for_url(re.compile(r"/branches/br-[^/]+/$"))
    branch_id = page.url.rstrip("/").rsplit("/", 1)[1]
    password = fake_neon.role_password(branch_id)  # the owner's, copied from main
    assert page.locator("h1").inner_text() == "e2e-try"
    direct = page.locator("#conn-direct")
    assert "********" in direct.inner_text() and password not in page.content()

    page.click("text=Reveal password")
    page.locator("button[data-copy=conn-direct]").wait_for()
    # The branch's own role, made by the reveal; never the owner's password shared with main.
    role = branch_role_name(branch_id)
    role_password = fake_neon.role_password(branch_id, role)
    assert f"{role}:{role_password}@" in direct.inner_text()
    assert f"{role}:{role_password}@" in page.locator("#conn-pooled").inner_text()
    assert password not in page.content()
    page.click("#connection button:has-text('Hide')")
    page.locator("#connection button:has-text('Reveal password')").wait_for()
    assert role_password not in page.locator("#connection").inner_text()

    page.click("text=Delete…")
    page.fill("#id_confirm", "e2e-wrong")
    page.click("button:has-text('Delete this branch')")
    page.locator(".field-error").wait_for()
    assert "type e2e-try exactly" in page.locator(".field-error").inner_text()
    page.fill("#id_confirm", "e2e-try")
    page.click("button:has-text('Delete this branch')")
    page.locator(".branch-job").wait_for()

    worker = worker_in_background()
    page.locator('.branch-job[data-status="succeeded"]').wait_for(timeout=20_000)
    worker.join(timeout=20)
    assert "Branch e2e-try is deleted" in page.locator(".branch-job").inner_text()
    assert not fake_neon.has_branch(branch_id)

    page.click("text=Back to the branches")
    assert page.locator('tr[data-branch="e2e-try"]').count() == 0
    assert page.locator("table.requests").inner_text().count("e2e-try") == 2
