"""The console names every connection it opens, and knows which roles are its own."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from sqlalchemy import text

from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.server_address import ServerAddress
from dashboard.console_work import APPLICATION_NAME, console_roles, is_console_session
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
    provider = LocalProvider(os.environ["TARGET_DATABASE_URL"], secret="test-secret")
    with provider.maintenance_connection() as conn:
        assert conn.execute("SHOW application_name").fetchone()[0] == "schemadesk"
    address = ServerAddress(os.environ["TARGET_DATABASE_URL"])
    assert address.libpq_environment("x")["PGAPPNAME"] == "schemadesk"


def test_migration_subprocesses_default_to_the_console_name():
    environment = step_environment(project_settings(), "postgresql://u@h/db")
    assert environment["PGAPPNAME"] == "schemadesk"


def test_console_roles_are_its_own_roles_not_the_target_role(settings):
    settings.CONSOLE_ROLES = []
    # todo_owner (the target's role) runs the application's migrations too: not claimed.
    assert console_roles() == ("schemadesk", "schemadesk_readonly")


def test_console_roles_follow_the_read_only_setup_and_add_named_roles(settings, monkeypatch):
    monkeypatch.setenv("CW_READONLY_URL", "postgresql://desk_explain:pw@127.0.0.1:5432/x")
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "CW_READONLY_URL"}
    settings.CONSOLE_ROLES = ["todo_owner", "desk_reader"]
    assert console_roles() == ("desk_explain", "desk_reader", "schemadesk", "todo_owner")
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": "desk_set"}
    settings.CONSOLE_ROLES = []
    assert console_roles() == ("desk_set", "schemadesk")


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
