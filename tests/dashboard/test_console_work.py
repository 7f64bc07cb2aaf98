"""The console names every connection it opens, and knows which roles are its own."""

from __future__ import annotations

import os
import re
import secrets

import pytest
from django.db import connection
from sqlalchemy import text

from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.server_address import ServerAddress
from dashboard.console_work import (
    APPLICATION_NAME,
    console_roles,
    forget_application_roles,
    is_console_session,
)
from dashboard.history.commands import step_environment
from dashboard.history.project import project_settings
from dashboard.target import reset_engine, run_read


@pytest.mark.django_db
def test_the_console_database_connection_is_named_schemadesk():
    with connection.cursor() as cursor:
        cursor.execute("SHOW application_name")
        assert cursor.fetchone()[0] == APPLICATION_NAME == "schemadesk"


def test_an_application_name_in_the_url_does_not_rename_the_console(monkeypatch):
    from dashboard.config import database_settings

    monkeypatch.setenv("CW_URL", "postgresql://u:p@db.example:5432/x?application_name=other")
    assert database_settings("CW_URL")["OPTIONS"]["application_name"] == "schemadesk"


def test_the_target_gateway_is_named_schemadesk():
    reset_engine()
    try:
        assert run_read(lambda conn: conn.execute(text("SHOW application_name")).scalar()) == (
            "schemadesk"
        )
    finally:
        reset_engine()


@pytest.mark.django_db
def test_the_worker_connects_with_the_same_name():
    from procrastinate.contrib.django.utils import connector_params

    assert connector_params()["application_name"] == "schemadesk"


def test_branch_maintenance_and_pg_dump_are_named_schemadesk():
    provider = LocalProvider(os.environ["TARGET_MAINTENANCE_DATABASE_URL"], secret="test-secret")
    with provider.maintenance_connection() as conn:
        assert conn.execute("SHOW application_name").fetchone()[0] == "schemadesk"
    address = ServerAddress(os.environ["TARGET_MAINTENANCE_DATABASE_URL"])
    assert address.libpq_environment("x")["PGAPPNAME"] == "schemadesk"


def test_migration_subprocesses_default_to_the_console_name():
    environment = step_environment(project_settings(), "postgresql://u@h/db")
    assert environment["PGAPPNAME"] == "schemadesk"


CONSOLE_ROLES = ("schemadesk", "schemadesk_maintenance", "schemadesk_reader", "schemadesk_readonly")


@pytest.fixture
def fresh_roles():
    forget_application_roles()
    yield
    forget_application_roles()


def _as_superuser(statement: str) -> None:
    from tests.dashboard.queries.conftest import as_superuser

    as_superuser(statement)


def test_console_roles_are_the_roles_of_its_urls_not_the_applications(settings, fresh_roles):
    settings.CONSOLE_ROLES = []
    # The console's role, its reader, EXPLAIN's read-only role and its maintenance role; not
    # todo_owner (runs the application's migrations) nor todo_app (the application).
    assert console_roles() == CONSOLE_ROLES


def test_a_console_url_whose_role_may_write_the_applications_tables_is_not_claimed(
    settings, fresh_roles
):
    """The old one-role layout: the console read as the owner, whose statements are the
    application's migrations too; and a maintenance URL naming the application's own role."""
    settings.CONSOLE_ROLES = []
    settings.TARGET = {
        **settings.TARGET,
        "URL_VAR": "APP_DIRECT_URL",
        "MAINTENANCE_URL_VAR": "APP_DATABASE_URL",
    }
    assert console_roles() == ("schemadesk", "schemadesk_readonly")


def test_a_reader_given_a_write_stops_being_the_consoles(settings, fresh_roles):
    settings.CONSOLE_ROLES = []
    assert "schemadesk_reader" in console_roles()
    _as_superuser("GRANT UPDATE ON tasks TO schemadesk_reader")
    try:
        forget_application_roles()  # a minute later, at most
        assert "schemadesk_reader" not in console_roles()
    finally:
        _as_superuser("REVOKE UPDATE ON tasks FROM schemadesk_reader")
    forget_application_roles()
    assert "schemadesk_reader" in console_roles()


def test_console_roles_follow_the_read_only_setup_and_add_named_roles(
    settings, monkeypatch, fresh_roles
):
    monkeypatch.setenv("CW_READONLY_URL", "postgresql://desk_explain:pw@127.0.0.1:5432/x")
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "CW_READONLY_URL"}
    # Named, even the owner counts as the console's.
    settings.CONSOLE_ROLES = ["todo_owner", "desk_reader"]
    found = console_roles()
    assert {"desk_explain", "desk_reader", "todo_owner"} <= set(found)
    assert "schemadesk_readonly" not in found
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": "desk_set"}
    settings.CONSOLE_ROLES = []
    assert "desk_set" in console_roles() and "desk_explain" not in console_roles()


def test_the_target_is_asked_about_the_roles_once_a_minute(monkeypatch, fresh_roles):
    from dashboard import target

    reads = []
    real_run_read = target.run_read

    def counting(work, *args, **kwargs):
        reads.append(work)
        return real_run_read(work, *args, **kwargs)

    monkeypatch.setattr(target, "run_read", counting)
    for _ in range(3):
        assert console_roles() == CONSOLE_ROLES
    assert len(reads) == 1
    forget_application_roles()
    console_roles()
    assert len(reads) == 2
    # A caller inside a read lends its connection: no read of its own.
    forget_application_roles()
    assert real_run_read(console_roles) == CONSOLE_ROLES
    assert len(reads) == 2


def test_a_session_is_the_consoles_by_name_or_by_role():
    assert is_console_session("schemadesk", "todo_app", ("schemadesk",))
    assert is_console_session("psql", "schemadesk", ("schemadesk",))
    assert not is_console_session("todo-app", "todo_app", ("schemadesk",))


def test_every_connection_the_console_opens_in_its_code_names_itself():
    """Each psycopg.connect / create_engine call of dashboard/ passes APPLICATION_NAME."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "dashboard"
    unnamed = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name not in ("psycopg.connect", "create_engine"):
                continue
            values = {kw.arg: ast.unparse(kw.value) for kw in node.keywords}
            named = values.get("application_name") == "APPLICATION_NAME" or (
                "connect_args" in values
                and "_connect_args(url, APPLICATION_NAME)" in ast.unparse(node)
            )
            if not named:
                unnamed.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    assert unnamed == []


class _DjangoPages:
    """The crawler's client interface over Django's test client (streamed bodies joined)."""

    def __init__(self, client) -> None:
        self.client = client

    def get(self, path: str):
        from types import SimpleNamespace

        response = self.client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return SimpleNamespace(
            status_code=response.status_code,
            headers=response.headers,
            text=body.decode(errors="replace"),
        )


LISTED = re.compile(r'class="q-sql" href="/queries/(-?\d+)/"')
NEXT = re.compile(r'href="([^"]+)"[^>]*>Next →')


def _listed_queryids(client, path: str) -> set[int]:
    """Return the query ids the slow-query list shows (on one page: see the test)."""
    page = client.get(path)
    assert page.status_code == 200, page.content[:500]
    text = page.content.decode()
    assert not NEXT.search(text)  # everything is on this page
    return {int(queryid) for queryid in LISTED.findall(text)}


def _queryids_by_role() -> dict[str, set[int]]:
    from tests.dashboard.queries.conftest import as_superuser

    rows = as_superuser(
        "SELECT r.rolname, s.queryid FROM pg_stat_statements AS s "
        "JOIN pg_roles AS r ON r.oid = s.userid "
        "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND s.queryid IS NOT NULL"
    )
    by_role: dict[str, set[int]] = {}
    for role, queryid in rows:
        by_role.setdefault(role, set()).add(int(queryid))
    return by_role


@pytest.mark.django_db
def test_after_browsing_every_page_queries_shows_the_applications_statements_not_the_consoles(
    admin_client, settings, monkeypatch, fresh_roles
):
    """Issue 12: the console's reads of the target ran as the owner and swamped Queries."""
    import psycopg

    from dashboard.queries.extension import forget_statements_status
    from tests.dashboard.onboarding.crawler import crawl
    from tests.dashboard.queries.conftest import as_superuser

    settings.SUPPORT_REASON_REQUIRED = False  # the pages of end-users' data too, without a form
    # One page holds the whole list: paging while the console's own reads move the counters
    # would let rows slip between pages.
    monkeypatch.setattr("dashboard.queries.statements.PAGE_SIZE", 5000)
    as_superuser("SELECT pg_stat_statements_reset()")
    forget_statements_status()
    seen = crawl(_DjangoPages(admin_client), "/")
    assert not [f for f in seen.failures if not f.startswith("404 /queries/activity/")], seen
    assert len(seen.visited) > 60
    # The application: its runtime role, with an end-user set for row-level security.
    tag = secrets.token_hex(4)
    with psycopg.connect(os.environ["APP_DATABASE_URL"]) as app:
        app.execute("SELECT set_config('app.current_user_id', 'qt-user', true)")
        app.execute(f"SELECT count(*) AS qt_app_{tag} FROM tasks WHERE title <> %s", ("x",))
        app.execute("UPDATE tasks SET title = title WHERE id = %s", (-1,))

    by_role = _queryids_by_role()
    # The console's own role, its reader and its maintenance role (branches) all ran some.
    assert {"schemadesk", "schemadesk_reader", "schemadesk_maintenance"} <= set(by_role)
    console = set().union(*(ids for role, ids in by_role.items() if role in CONSOLE_ROLES))
    others = set().union(*(ids for role, ids in by_role.items() if role not in CONSOLE_ROLES))
    console_only = console - others  # BEGIN, COMMIT: one query id, the application's row too
    applications = by_role["todo_app"]
    assert len(applications) >= 3 and len(console_only) > 50

    hidden = _listed_queryids(admin_client, "/queries/?sort=calls")
    assert applications <= hidden
    assert not hidden & console_only, as_superuser(
        "SELECT r.rolname, s.queryid, left(s.query, 80) FROM pg_stat_statements AS s "
        "JOIN pg_roles AS r ON r.oid = s.userid WHERE s.queryid = ANY(%s)",
        (list(hidden & console_only),),
    )
    shown = _listed_queryids(admin_client, "/queries/?sort=calls&console=1")
    # With the toggle: everything, the console's included (all that ran before the lists).
    assert applications | console <= shown
