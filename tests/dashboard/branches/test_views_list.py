"""The branches list on the fake Neon: the table, its htmx part, roles, Neon's errors."""

# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.dashboard.branches.views_fixtures import HTMX, neon, text  # noqa: F401 - fixture
from tests.fakes.neon_server import FakeNeon

# ---- the list ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_branches_with_the_default_marked_and_the_provider(
    viewer_client: Client, neon: FakeNeon
) -> None:
    child = neon.add_branch("feature-login")
    page = viewer_client.get("/branches/")

    assert page.status_code == 200
    html = text(page)
    assert "<h1>Branches</h1>" in html
    assert "Neon" in html and f"project {neon.project_id}" in html
    row = re.search(r'<tr data-branch="feature-login">.*?</tr>', html, re.S)
    assert row is not None
    assert f'href="/branches/{child}/"' in row.group(0)
    assert "<td>main</td>" in row.group(0)  # the parent, by name
    assert "30.0 MB" in row.group(0) and 'data-state="ready"' in row.group(0)
    main_row = re.search(r'<tr data-branch="main">.*?</tr>', html, re.S)
    assert main_row is not None and "badge default" in main_row.group(0)
    assert "New branch" not in html  # a viewer cannot create
    assert neon.api_key not in html


@pytest.mark.django_db
def test_list_htmx_part_is_only_the_table(engineer_client: Client, neon: FakeNeon) -> None:
    part = engineer_client.get("/branches/", **HTMX)
    assert part.status_code == 200
    html = text(part)
    assert html.lstrip().startswith('<section class="card" id="branches"')
    assert "<html" not in html and 'data-branch="main"' in html


@pytest.mark.django_db
def test_list_refreshes_itself_while_a_branch_is_being_made(
    viewer_client: Client, neon: FakeNeon
) -> None:
    neon.operation_duration = 60.0
    assert 'hx-trigger="every 3s"' not in text(viewer_client.get("/branches/"))
    from dashboard.branches.neon_provider import NeonProvider

    provider = NeonProvider.from_settings()
    provider.create_branch("in-the-making")
    html = text(viewer_client.get("/branches/"))
    assert 'hx-trigger="every 3s"' in html and 'data-state="creating"' in html


@pytest.mark.django_db
def test_a_user_without_a_role_cannot_see_branches(operator_factory: Any, neon: FakeNeon) -> None:
    client = Client()
    client.force_login(operator_factory("nobody", None))
    assert client.get("/branches/").status_code == 403


# ---- errors from Neon and missing settings -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (423, "Neon is busy with another operation on this project (423 LOCKED); try again"),
        (429, "Neon is rate limiting this API key (429 RATE_LIMITED); wait a minute"),
        (500, "Neon had a problem on its side (500 INTERNAL_ERROR); try again in a few minutes"),
    ],
)
def test_neon_failures_are_a_sentence_on_the_page(
    viewer_client: Client,
    neon: FakeNeon,
    caplog: pytest.LogCaptureFixture,
    status: int,
    sentence: str,
) -> None:
    neon.fail_next(status, times=40, retry_after=0)  # a page waits out a 423 for 5 s at most
    page = viewer_client.get("/branches/")
    assert page.status_code == 503
    assert sentence in text(page)
    assert "Traceback" not in text(page)
    request_id = neon.requests_to("GET", "/branches")[-1].request_id
    assert request_id in text(page)
    assert f"request_id={request_id}" in caplog.text  # the log has the detail

    neon.fail_next(status, times=40, retry_after=0)
    part = viewer_client.get("/branches/", **HTMX)
    assert part.status_code == 200  # htmx swaps the notice in
    assert sentence in text(part)


@pytest.mark.django_db
def test_timeout_is_a_sentence_on_the_page(viewer_client: Client, neon: FakeNeon) -> None:
    from django.conf import settings

    settings.NEON_TIMEOUT_SECONDS = 0.2
    neon.delay_next(1.0, times=3)
    page = viewer_client.get("/branches/")
    assert page.status_code == 503
    assert "Neon did not answer within 0.2 seconds" in text(page)


@pytest.mark.django_db
def test_wrong_or_missing_key_and_project_say_what_to_do(
    engineer_client: Client, neon: FakeNeon, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setenv("NEON_API_KEY", "a-wrong-key")
    page = text(engineer_client.get("/branches/"))
    assert "Neon did not accept the API key (401 UNAUTHORIZED); check NEON_API_KEY" in page
    assert "a-wrong-key" not in page

    monkeypatch.delenv("NEON_API_KEY")
    page = text(engineer_client.get("/branches/"))
    assert "NEON_API_KEY is not set" in page
    create = engineer_client.get("/branches/new/")
    assert create.status_code == 503 and "NEON_API_KEY is not set" in text(create)

    monkeypatch.setenv("NEON_API_KEY", neon.api_key)
    settings.NEON_PROJECT_ID = ""
    page = text(engineer_client.get("/branches/"))
    assert "NEON_PROJECT_ID is not set" in page
    assert "(NEON_PROJECT_ID is not set)" in page  # the provider card says it too


@pytest.mark.django_db
def test_many_branches_are_listed_a_page_at_a_time(viewer_client: Client, neon: FakeNeon) -> None:
    from dashboard.branches.branch_pages import BRANCH_PAGE_SIZE

    for number in range(2 * BRANCH_PAGE_SIZE + 10):  # 111 with main: Neon answers in pages
        neon.add_branch(f"preview-{number:03d}")
    first = text(viewer_client.get("/branches/"))
    assert first.count("<tr data-branch=") == BRANCH_PAGE_SIZE
    assert '<span class="value">111</span>' in first  # the count is of all branches
    assert "Branches 1 to 50 of 111 (page 1 of 3)." in first
    last = text(viewer_client.get("/branches/?page=3", **HTMX))
    assert last.count("<tr data-branch=") == 11
    shown = set(re.findall(r'<tr data-branch="([^"]+)"', first + last))
    middle = text(viewer_client.get("/branches/?page=2"))
    shown |= set(re.findall(r'<tr data-branch="([^"]+)"', middle))
    assert len(shown) == 111  # every branch on exactly one page
    assert len(neon.requests_to("GET", "/branches")) >= 2 * 3  # Neon's own pages, each time
