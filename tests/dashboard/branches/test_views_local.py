"""The branches pages on the local provider: real databases cloned on the test cluster."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.jobs.models import JobRun
from tests.dashboard.branches.views_fixtures import HTMX, text

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
    from tests.pgplugin import point_console_at, running_layout

    name = f"bv_{secrets.token_hex(4)}"
    with _superuser() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
        conn.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(name)
            )
        )
    url = running_layout().url(OWNER_ROLE, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bv_notes (id bigint PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO bv_notes SELECT g, 'note ' || g FROM generate_series(1, 50) g")
    # Read as the console's reader, branched as its maintenance role: not as the owner.
    point_console_at(name, settings, monkeypatch)
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
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{name}__br__",)
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.django_db(transaction=True)
def test_local_branch_create_reveal_diff_and_delete_through_the_pages(
    engineer_client: Client, local_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    import html
    from urllib.parse import urlsplit

    import psycopg

    from dashboard.branches.server_address import ServerAddress
    from dashboard.jobs.worker import run_until_idle

    # The console's roles in the target: the reader and the maintenance role (which branches).
    passwords = [
        urlsplit(os.environ[f"QT_{variable}"]).password or ""
        for variable in ("TARGET_DATABASE_URL", "TARGET_MAINTENANCE_DATABASE_URL")
    ]
    assert all(passwords)
    empty = text(engineer_client.get("/branches/"))
    assert "Local clones" in empty and f"/{local_target}" in empty
    assert "No branches yet." in empty and f">{local_target}<" in empty  # cloned from

    form = text(engineer_client.get("/branches/new/"))
    assert f'<option value="{local_target}" selected>{local_target} (the target database)' in form
    point_in_time = re.search(r'<input type="datetime-local"[^>]*>', form)
    assert point_in_time is not None and "disabled" in point_in_time.group(0)
    assert "Not supported by Local clones" in form
    # What happens when a local branch expires: the scheduled job deletes it (not "nothing").
    assert "the worker&#x27;s scheduled job deletes the branch" in form
    assert "BRANCH_EXPIRY_CRON, */15 * * * *" in form
    assert "not deleted by themselves" not in form
    assert '<span aria-current="page">New branch</span>' in form

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
    assert '<a href="/branches/">Branches</a>' in page
    assert '<span aria-current="page">local-one</span>' in page
    assert ":********@" in page and f"/{branch_id}" in page
    assert not any(password in page for password in passwords)
    assert "Connection string" in page  # no pooler locally: one string

    revealed = engineer_client.post(f"/branches/{branch_id}/reveal/", **HTMX)
    assert not any(password in text(revealed) for password in passwords)  # never the console's
    found = re.search(r'id="conn-direct">(postgresql://[^<]+)</code>', text(revealed))
    assert found is not None
    revealed_url = html.unescape(found.group(1))
    assert urlsplit(revealed_url).username == branch_id and f"/{branch_id}" in revealed_url
    # The parent is closed to PUBLIC: not among the databases the warning names.
    assert f"DATABASE {local_target}," not in text(revealed)
    assert f"DATABASE {local_target} FROM" not in text(revealed)
    # A real connection: the revealed URL opens the branch, and the same login fails on the
    # parent.
    with psycopg.connect(revealed_url) as conn:
        assert conn.execute("SELECT count(*) FROM bv_notes").fetchone() == (50,)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(ServerAddress(revealed_url).with_database(local_target)).close()
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
    assert not any(password in caplog.text for password in passwords)
    assert (urlsplit(revealed_url).password or "-") not in caplog.text
    with _superuser() as conn:  # the branch's role went with it
        assert not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (branch_id,)
        ).fetchone()
