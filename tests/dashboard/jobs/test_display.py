"""Job pages for people: a title saying what the job does to what, a link back to the object,
values formatted (no Python reprs, no raw byte counts)."""

from __future__ import annotations

import re

import pytest

from dashboard.branches.models import BranchRequest
from dashboard.history.models import RevisionSql
from dashboard.home.services import target_probe
from dashboard.jobs.display import formatted, job_page
from dashboard.jobs.models import JobRun

pytestmark = pytest.mark.django_db


def test_values_are_formatted_for_people():
    assert formatted("has_alembic", True) == "yes"
    assert formatted("reset detected", False) == "no"
    assert formatted("alembic_versions", ["0003"]) == "0003"
    assert formatted("alembic_versions", ["a1", "b2"]) == "a1, b2"
    assert formatted("alembic_versions", []) == "none"
    assert formatted("failed_revision", None) == "—"
    assert formatted("database_bytes", 11_856_000) == "11.3 MB"
    assert formatted("elapsed_ms", 12.5) == "12 ms"
    assert formatted("seconds", 3.14159) == "3.14 s"
    assert formatted("statements read", 12345) == "12,345"
    assert formatted("state", "ready") == "ready"


def test_a_health_check_page_names_its_target_and_shows_its_result_formatted(viewer_client):
    result = target_probe()  # what the job stores, read from the real target
    run = JobRun.objects.create(kind="health_check", status="succeeded", result=result)
    body = viewer_client.get(f"/jobs/{run.pk}/").content.decode()
    assert "<h1>Health check of the target database</h1>" in body
    assert f"{result['location']}, schema public" in body
    assert '<a href="/">Back to the Overview</a>' in body
    assert '<nav class="crumbs" aria-label="Breadcrumb"><a href="/">Overview</a>' in body
    assert '<span aria-current="page">Health check of the target database</span>' in body
    result_html = body.split('<dl class="job-result">', 1)[1].split("</dl>", 1)[0]
    assert "<dt>Database size</dt><dd>" in result_html
    assert re.search(r"<dt>Database size</dt><dd>[\d.]+ (kB|MB|GB)</dd>", result_html)
    assert "<dt>Managed by Alembic</dt><dd>yes</dd>" in result_html
    assert "<dt>Alembic revision</dt><dd>0003</dd>" in result_html
    for repr_ in ("[&#x27;", "True", "False", "None", str(result["database_bytes"])):
        assert repr_ not in result_html, repr_

    partial = viewer_client.get(f"/jobs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "<dt>Alembic revision</dt><dd>0003</dd>" in partial


def test_each_kind_says_what_it_does_to_what_and_links_back(admin_client):
    cases = []
    snapshot = JobRun.objects.create(kind="queries_snapshot")
    cases.append((snapshot, "Snapshot of pg_stat_statements", "/queries/snapshots/"))
    sql = RevisionSql.objects.create(project="p", revision="0003", script_hash="x")
    revision = JobRun.objects.create(kind="revision_sql", params={"revision_sql_id": sql.pk})
    cases.append((revision, "SQL and review of revision 0003", "/migrations/revisions/0003/"))
    trial = JobRun.objects.create(kind="migration_trial", params={"trial_id": 7})
    cases.append((trial, "Trial run #7 of the pending migrations", "/migrations/trials/7/"))
    apply = JobRun.objects.create(kind="migration_apply", params={"destination": "0003"})
    cases.append((apply, "Apply the migrations up to 0003 to the target database", "/migrations/"))
    create = JobRun.objects.create(kind="branch_create")
    BranchRequest.objects.create(
        action="create", provider="local", branch_name="fix-login", branch_id="br-9", job_run=create
    )
    cases.append((create, "Create branch fix-login", "/branches/br-9/"))
    for run, title, url in cases:
        page = job_page(run)
        assert (page.title, page.object_url) == (title, url)
        body = admin_client.get(f"/jobs/{run.pk}/").content.decode()
        assert f"<h1>{title}</h1>" in body and f'<a href="{url}">' in body
        assert f"<title>{title} · Schemadesk</title>" in body


def test_result_lines_keep_a_readable_order():
    from dashboard.jobs.display import result_lines

    # As the JSON column returns them: keys sorted alphabetically.
    stored = {"alembic_versions": ["0003"], "database_bytes": 2048, "location": "h:5432/db"}
    assert result_lines(stored) == [
        ("Target", "h:5432/db"),
        ("Database size", "2.0 kB"),
        ("Alembic revision", "0003"),
    ]
