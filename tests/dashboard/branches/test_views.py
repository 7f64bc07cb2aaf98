"""The branches pages on the fake Neon: full pages and htmx parts, permissions, audit, errors,
secrets; and on the local provider (real databases cloned on the test cluster)."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.branches.models import BranchRequest
from dashboard.jobs.models import JobRun
from tests.dashboard.branches.neon_fixtures import (  # noqa: F401 - fixtures
    VirtualTime,
    fake,
    fast_password_hashing,
    neon_settings,
    neon_virtual_time,
    virtual_time,
)
from tests.fakes.neon_server import FakeNeon

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def neon(fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime) -> FakeNeon:
    """The fake Neon, with the console pointed at it and no real waits."""
    return fake


def text(response: Any) -> str:
    return response.content.decode()


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
    neon.fail_next(status, times=4, retry_after=0)
    page = viewer_client.get("/branches/")
    assert page.status_code == 503
    assert sentence in text(page)
    assert "Traceback" not in text(page)
    request_id = neon.requests_to("GET", "/branches")[-1].request_id
    assert request_id in text(page)
    assert f"request_id={request_id}" in caplog.text  # the log has the detail

    neon.fail_next(status, times=4, retry_after=0)
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
    assert "postgresql://neondb_owner:********@ep-" in html
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
    neon.fail_next(503, times=10, path_contains="/connection_uri")
    page = viewer_client.get(f"/branches/{branch_id}/")
    assert page.status_code == 200
    assert "<h1>flaky</h1>" in text(page)
    assert "Neon had a problem on its side" in text(page)


@pytest.mark.django_db
def test_reveal_shows_the_passwords_uncached_and_audits_it(
    engineer_client: Client, engineer_user: Any, neon: FakeNeon
) -> None:
    branch_id = neon.add_branch("reveal-me", with_endpoint=True)
    password = neon.role_password(branch_id)

    response = engineer_client.post(f"/branches/{branch_id}/reveal/", **HTMX)

    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<section class="card connection" id="connection">')
    assert f"postgresql://neondb_owner:{password}@ep-" in html
    assert html.count(password) == 2  # pooled and direct
    assert 'data-copy="conn-pooled"' in html and "Hide" in html
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="branch.reveal")
    assert event.operator == engineer_user
    assert event.detail == {"branch_id": branch_id, "branch_name": "reveal-me", "provider": "neon"}
    assert password not in str(event.detail) + event.reason

    # Without htmx: the whole branch page, with the strings revealed.
    full = engineer_client.post(f"/branches/{branch_id}/reveal/")
    assert full.status_code == 200 and "<h1>reveal-me</h1>" in text(full)
    assert password in text(full) and "no-store" in full["Cache-Control"]
    assert AuditEvent.objects.filter(action="branch.reveal").count() == 2


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

    assert password in text(revealed)
    for page in pages:
        assert password not in text(page) and neon.api_key not in text(page)
    assert neon.api_key not in text(revealed)
    assert caplog.records
    assert password not in caplog.text and neon.api_key not in caplog.text
    for event in AuditEvent.objects.all():
        assert password not in str(event.detail) and neon.api_key not in str(event.detail)
    for asked in BranchRequest.objects.all():
        assert password not in str(asked.options)


# ---- the local provider through the pages ---------------------------------------------------


def _superuser(dbname: str = "postgres") -> Any:
    import psycopg

    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def local_target(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A small target database of its own (owned by the target role), for local branches."""
    import psycopg
    from psycopg import sql

    from core.embedded import OWNER_ROLE
    from tests.pgplugin import running_layout

    name = f"bv_{secrets.token_hex(4)}"
    with _superuser() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
    url = running_layout().url(OWNER_ROLE, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bv_notes (id bigint PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO bv_notes SELECT g, 'note ' || g FROM generate_series(1, 50) g")
    monkeypatch.setenv("BV_TARGET_URL", url)
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BV_TARGET_URL"}
    settings.BRANCH_PROVIDER = "local"
    yield name
    with _superuser() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR starts_with(datname, %s)",
            (name, f"{name}__br__"),
        ).fetchall()
        for (dbname,) in rows:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


@pytest.mark.django_db(transaction=True)
def test_local_branch_create_reveal_diff_and_delete_through_the_pages(
    engineer_client: Client, local_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    from urllib.parse import urlsplit

    from dashboard.jobs.worker import run_until_idle

    password = urlsplit(os.environ["BV_TARGET_URL"]).password or ""
    assert password
    empty = text(engineer_client.get("/branches/"))
    assert "Local clones" in empty and f"/{local_target}" in empty
    assert "No branches yet." in empty and f">{local_target}<" in empty  # cloned from

    form = text(engineer_client.get("/branches/new/"))
    assert f'<option value="{local_target}" selected>{local_target} (the target database)' in form
    point_in_time = re.search(r'<input type="datetime-local"[^>]*>', form)
    assert point_in_time is not None and "disabled" in point_in_time.group(0)
    assert "Not supported by Local clones" in form

    response = engineer_client.post(
        "/branches/new/",
        {"name": "local-one", "parent": local_target, "point_in_time": "2020-01-01T00:00"},
        **HTMX,
    )
    assert 'hx-trigger="every 1s"' in text(response)
    run_until_idle()
    run = JobRun.objects.get(kind="branch_create")
    assert run.status == "succeeded", run.error
    branch_id = f"{local_target}__br__local-one"
    assert run.result == {"branch_id": branch_id, "branch_name": "local-one", "state": "ready"}
    assert any("pg_dump | pg_restore" in line["message"] for line in run.progress)

    listed = text(engineer_client.get("/branches/"))
    row = re.search(r'<tr data-branch="local-one">.*?</tr>', listed, re.S)
    assert row is not None and 'data-state="ready"' in row.group(0)
    assert f"<td>{local_target}</td>" in row.group(0)

    page = text(engineer_client.get(f"/branches/{branch_id}/"))
    assert "<h1>local-one</h1>" in page and "(the target database)" in page
    assert ":********@" in page and f"/{branch_id}" in page and password not in page
    assert "Connection string" in page  # no pooler locally: one string

    revealed = engineer_client.post(f"/branches/{branch_id}/reveal/", **HTMX)
    assert f":{password}@" in text(revealed) and f"/{branch_id}" in text(revealed)
    assert AuditEvent.objects.get(action="branch.reveal").detail["branch_id"] == branch_id

    diff = text(engineer_client.get(f"/branches/{branch_id}/schema-diff/", **HTMX))
    assert 'data-diff="none"' in diff

    confirm = engineer_client.post(f"/branches/{branch_id}/delete/", {"confirm": "local-one"})
    assert confirm.status_code == 302
    run_until_idle()
    deleted = JobRun.objects.get(kind="branch_delete")
    assert deleted.status == "succeeded", deleted.error
    with _superuser() as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (branch_id,)
        ).fetchone()
    assert "No branches yet." in text(engineer_client.get("/branches/"))
    assert [e.action for e in AuditEvent.objects.order_by("at", "id")] == [
        "branch.create",
        "branch.reveal",
        "branch.delete",
    ]
    assert password not in caplog.text
