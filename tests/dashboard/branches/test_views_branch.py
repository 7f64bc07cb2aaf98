"""One branch on the fake Neon: details, connection strings, reveal, roles, diff, secrets."""

# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.branches.models import BranchRequest
from dashboard.branches.neon_provider import branch_role_name
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

# ---- one branch, the connection strings and the reveal --------------------------------------


@pytest.mark.django_db
def test_branch_page_shows_details_and_masked_connection_strings(
    viewer_client: Client, engineer_client: Client, neon: FakeNeon
) -> None:
    branch_id = neon.add_branch("debug-ticket-42", with_endpoint=True)
    password = neon.role_password(branch_id)

    page = viewer_client.get(f"/branches/{branch_id}/")
    assert page.status_code == 200
    html = text(page)
    assert "<h1>debug-ticket-42</h1>" in html
    assert f'<dd class="mono">{branch_id}</dd>' in html
    assert f'href="/branches/{neon.default_branch_id}/">main</a>' in html
    role = branch_role_name(branch_id)
    assert f"postgresql://{role}:********@ep-" in html
    assert not neon.requests_to("POST", "/roles")  # looking creates nothing
    assert "-pooler." in html  # pooled and direct are both shown
    assert password not in html and neon.api_key not in html
    assert "Reveal password" not in html and "engineer role can reveal" in html
    assert "Delete…" not in html  # viewers do not get the actions
    assert f'hx-get="/branches/{branch_id}/schema-diff/"' in html

    engineer_page = text(engineer_client.get(f"/branches/{branch_id}/"))
    assert "Reveal password" in engineer_page and password not in engineer_page
    assert f'href="/branches/{branch_id}/delete/"' in engineer_page
    assert f'href="/branches/{branch_id}/reset/"' in engineer_page

    part = viewer_client.get(f"/branches/{branch_id}/?part=connection", **HTMX)
    assert text(part).lstrip().startswith('<section class="card connection" id="connection">')
    assert password not in text(part)
    summary = viewer_client.get(f"/branches/{branch_id}/", **HTMX)
    assert text(summary).lstrip().startswith('<section class="card" id="branch-summary"')


@pytest.mark.django_db
def test_branch_page_of_a_branch_being_made_polls_then_reloads_when_ready(
    viewer_client: Client, neon: FakeNeon
) -> None:
    from dashboard.branches.neon_provider import NeonProvider

    neon.operation_duration = 60.0
    branch = NeonProvider.from_settings().create_branch("slowpoke")
    html = text(viewer_client.get(f"/branches/{branch.id}/"))
    assert f'hx-get="/branches/{branch.id}/?part=summary" hx-trigger="every 2s"' in html
    assert 'data-state="creating"' in html and "Available once the branch is ready" in html

    still = viewer_client.get(f"/branches/{branch.id}/?part=summary", **HTMX)
    assert still.status_code == 200 and 'data-state="creating"' in text(still)

    neon.finish_operations()
    done = viewer_client.get(f"/branches/{branch.id}/?part=summary", **HTMX)
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


@pytest.mark.django_db
def test_the_default_branch_cannot_be_deleted_or_reset_here(
    engineer_client: Client, neon: FakeNeon
) -> None:
    main = neon.default_branch_id
    html = text(engineer_client.get(f"/branches/{main}/"))
    assert "main is the default branch: the console does not delete it." in html
    assert f'href="/branches/{main}/delete/"' not in html
    response = engineer_client.post(f"/branches/{main}/delete/", {"confirm": "main"})
    assert "main is the default branch" in text(response)
    assert not JobRun.objects.exists() and neon.has_branch(main)


@pytest.mark.django_db
def test_unknown_branch_is_a_404_with_a_sentence(viewer_client: Client, neon: FakeNeon) -> None:
    response = viewer_client.get("/branches/br-does-not-exist/")
    assert response.status_code == 404
    assert "There is no branch br-does-not-exist (it may have been deleted)." in text(response)
    bad = viewer_client.get("/branches/not%20an%20id/")
    assert bad.status_code == 404 and "is not a branch id" in text(bad)


@pytest.mark.django_db
def test_branch_page_when_neon_fails_says_so(viewer_client: Client, neon: FakeNeon) -> None:
    branch_id = neon.add_branch("flaky", with_endpoint=True)
    neon.fail_next(503, times=4)  # get the branch, then list them: one retry each
    page = viewer_client.get(f"/branches/{branch_id}/")
    assert page.status_code == 503
    assert "Neon had a problem on its side (503 SERVICE_UNAVAILABLE)" in text(page)

    # Only the connection part fails: the rest of the page still renders.
    neon.fail_next(503, times=10, path_contains="/databases")
    page = viewer_client.get(f"/branches/{branch_id}/")
    assert page.status_code == 200
    assert "<h1>flaky</h1>" in text(page)
    assert "Neon had a problem on its side" in text(page)


@pytest.mark.django_db
def test_reveal_shows_the_passwords_uncached_and_audits_it(
    engineer_client: Client, engineer_user: Any, neon: FakeNeon
) -> None:
    branch_id = neon.add_branch("reveal-me", with_endpoint=True)
    owner_password = neon.role_password(branch_id)  # copied from main: it opens main too
    assert owner_password == neon.role_password(neon.default_branch_id)

    response = engineer_client.post(f"/branches/{branch_id}/reveal/", **HTMX)

    assert response.status_code == 200
    html = text(response)
    role = branch_role_name(branch_id)
    password = neon.role_password(branch_id, role)  # made on this branch by the reveal
    assert html.lstrip().startswith('<section class="card connection" id="connection">')
    assert f"postgresql://{role}:{password}@ep-" in html
    assert html.count(password) == 2  # pooled and direct
    assert owner_password not in html and "neondb_owner" not in html
    # The revealed role does not exist on the parent: its login fails there.
    assert role not in neon.role_names(neon.default_branch_id)
    assert 'data-copy="conn-pooled"' in html and "Hide" in html
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="branch.reveal")
    assert event.operator == engineer_user
    assert event.detail == {
        "branch_id": branch_id,
        "branch_name": "reveal-me",
        "provider": "neon",
        "role": role,
    }
    assert password not in str(event.detail) + event.reason

    # Without htmx: the whole branch page, with the strings revealed.
    full = engineer_client.post(f"/branches/{branch_id}/reveal/")
    assert full.status_code == 200 and "<h1>reveal-me</h1>" in text(full)
    assert password in text(full) and "no-store" in full["Cache-Control"]
    assert AuditEvent.objects.filter(action="branch.reveal").count() == 2
    assert len(neon.requests_to("POST", "/roles")) == 1  # the role is made once


@pytest.mark.django_db
def test_the_neon_reveal_names_the_branchs_copy_of_the_consoles_database(
    engineer_client: Client, neon: FakeNeon, settings: Any
) -> None:
    # The console's tables are in a database of the target's own server (the test cluster
    # stands in for the target's Neon compute): a branch of main holds a copy of it.
    console_database = str(settings.DATABASES["default"]["NAME"])
    neon.add_database(neon.default_branch_id, console_database)
    branch_id = neon.add_branch("holds-a-copy", with_endpoint=True)

    for headers in (HTMX, {}):
        html = text(engineer_client.post(f"/branches/{branch_id}/reveal/", **headers))
        warning = html[html.index('<div class="notice warn" role="alert">') :]
        assert f"also holds {console_database}, copied from its parent" in warning
        assert f"{console_database} is a copy of the console&#x27;s own database" in warning
        assert f"REVOKE CONNECT ON DATABASE {console_database} FROM PUBLIC" in warning


@pytest.mark.django_db
def test_reveal_needs_a_post(engineer_client: Client, neon: FakeNeon) -> None:
    branch_id = neon.add_branch("get-me", with_endpoint=True)
    response = engineer_client.get(f"/branches/{branch_id}/reveal/")
    assert response.status_code == 405
    assert neon.role_password(branch_id) not in text(response)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("client_fixture", ["viewer_client", "support_client"])
def test_below_engineer_cannot_create_reveal_delete_or_reset(
    request: pytest.FixtureRequest, neon: FakeNeon, client_fixture: str
) -> None:
    client: Client = request.getfixturevalue(client_fixture)
    branch_id = neon.add_branch("guarded", with_endpoint=True)
    password = neon.role_password(branch_id)
    neon.requests.clear()

    attempts = [
        client.get("/branches/new/"),
        client.post("/branches/new/", {"name": "sneaky", "parent": neon.default_branch_id}),
        client.post(f"/branches/{branch_id}/reveal/", **HTMX),
        client.get(f"/branches/{branch_id}/delete/"),
        client.post(f"/branches/{branch_id}/delete/", {"confirm": "guarded"}),
        client.post(f"/branches/{branch_id}/reset/", {"confirm": "on"}),
    ]

    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert all("needs the <strong>engineer</strong> role" in text(r) for r in attempts)
    assert all(password not in text(r) for r in attempts)
    assert not JobRun.objects.exists() and not BranchRequest.objects.exists()
    assert not AuditEvent.objects.exists()
    assert neon.requests == []  # refused before Neon was asked anything
    assert neon.has_branch(branch_id)


# ---- schema diff ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_diff_part_and_page(viewer_client: Client, neon: FakeNeon) -> None:
    branch_id = neon.add_branch("with-audit-table")
    same = viewer_client.get(f"/branches/{branch_id}/schema-diff/", **HTMX)
    assert 'data-diff="none"' in text(same)

    neon.set_schema(
        branch_id, "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE audit (id int);\n"
    )
    part = viewer_client.get(f"/branches/{branch_id}/schema-diff/", **HTMX)
    html = text(part)
    assert html.lstrip().startswith('<div id="schema-diff"')
    assert '<span class="add">+CREATE TABLE audit (id int);</span>' in html

    page = viewer_client.get(f"/branches/{branch_id}/schema-diff/")
    assert page.status_code == 200 and "<h1>Schema compared with the parent</h1>" in text(page)

    neon.fail_next(429, times=5, retry_after=0)
    limited = viewer_client.get(f"/branches/{branch_id}/schema-diff/", **HTMX)
    assert "Neon is rate limiting this API key" in text(limited)


# ---- secrets -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_key_or_password_in_logs_or_pages_except_the_reveal(
    engineer_client: Client, neon: FakeNeon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    branch_id = neon.add_branch("secret-keeper", with_endpoint=True)
    password = neon.role_password(branch_id)
    pages = [
        engineer_client.get("/branches/"),
        engineer_client.get("/branches/new/"),
        engineer_client.get(f"/branches/{branch_id}/"),
        engineer_client.get(f"/branches/{branch_id}/?part=connection", **HTMX),
        engineer_client.get(f"/branches/{branch_id}/delete/"),
    ]
    neon.fail_next(500, times=5, message=f"key {neon.api_key} pw postgresql://u:{password}@h")
    pages.append(engineer_client.get(f"/branches/{branch_id}/"))
    revealed = engineer_client.post(f"/branches/{branch_id}/reveal/", **HTMX)

    assert password not in text(revealed)  # the owner's password, shared with main
    branch_password = neon.role_password(branch_id, branch_role_name(branch_id))
    assert branch_password in text(revealed)
    for page in pages:
        assert password not in text(page) and neon.api_key not in text(page)
    assert neon.api_key not in text(revealed)
    assert caplog.records
    for secret in (password, branch_password, neon.api_key):
        assert secret not in caplog.text
    for event in AuditEvent.objects.all():
        assert password not in str(event.detail) and neon.api_key not in str(event.detail)
        assert branch_password not in str(event.detail)
    for asked in BranchRequest.objects.all():
        assert password not in str(asked.options)
