"""Pytest plugin: start a throwaway PostgreSQL cluster before Django reads its settings.

Loaded with `-p tests.pgplugin` (see pyproject.toml) so that it runs before pytest-django
imports `dashboard.settings`: the cluster's URLs are put into the environment first. The cluster
has `pg_stat_statements` preloaded, the production layout (schemas `public` and `django`,
roles `todo_owner`, `todo_app`, `schemadesk`) and the Alembic head applied to `public`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from core.embedded import Layout, prepare
from core.netports import free_port
from core.pgcluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE = "schemadesk_test"
_state: dict[str, object] = {}


def _alembic_upgrade_head(layout: Layout) -> None:
    if not (ROOT / "migrations" / "env.py").is_file():
        return
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if os.environ.get("SCHEMADESK_TEST_CLUSTER"):
        return  # a parent process (e.g. an xdist controller) already started one
    os.environ["DOTENV_FILE"] = ""  # a developer's .env (from make demo) must not leak in
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="schemadesk-test-pg-")), ephemeral=True)
    cluster.start(port=free_port())
    layout = prepare(cluster, TEST_DATABASE)
    _state["cluster"] = cluster
    _state["layout"] = layout
    os.environ.update(layout.environment())
    os.environ["SCHEMADESK_TEST_CLUSTER"] = str(cluster.root)
    os.environ["PG_SUPERUSER_URL"] = cluster.superuser_url()
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("BRANCH_PROVIDER", "local")
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.setdefault("SECURE_COOKIES", "false")
    # The demo's project, named explicitly as `make demo` does.
    os.environ.setdefault("SCHEMA_MODELS", "core.models")
    os.environ.setdefault("ALEMBIC_URL_ENV", "APP_DIRECT_URL")
    _alembic_upgrade_head(layout)


def pytest_unconfigure(config):
    cluster = _state.pop("cluster", None)
    if isinstance(cluster, Cluster):
        cluster.destroy()


def running_cluster() -> Cluster:
    """Return the cluster of this test run."""
    return Cluster(Path(os.environ["SCHEMADESK_TEST_CLUSTER"]))


def running_layout() -> Layout:
    """Return the layout of the test database (URLs with passwords)."""
    layout = _state.get("layout")
    assert isinstance(layout, Layout), "the test cluster was not started by this process"
    return layout


def console_roles_on(dbname: str) -> dict[str, str]:
    """Give the console's roles (reader, read-only, maintenance) their rights in another
    database of the test cluster, as core.embedded does for the test database; return the
    console's target URLs for it (the passwords stay the test run's)."""
    import psycopg

    from core.embedded import (
        APPLY_VARIABLE,
        MAINTENANCE_ROLE,
        OWNER_ROLE,
        READER_ROLE,
        READONLY_ROLE,
        ROLE_VARIABLES,
        database_url,
        maintenance_role_sql,
        readonly_role_sql,
        target_reader_sql,
    )

    with psycopg.connect(database_url(os.environ["PG_SUPERUSER_URL"], dbname)) as conn:
        conn.autocommit = True
        cur = conn.cursor()
        for statement in [
            *target_reader_sql(cur, None, dbname),
            *readonly_role_sql(cur, None, dbname),
            *maintenance_role_sql(cur, None, dbname),
        ]:
            cur.execute(statement)
    layout = running_layout()
    urls = {
        ROLE_VARIABLES[role]: layout.url(role, dbname)
        for role in (READER_ROLE, READONLY_ROLE, MAINTENANCE_ROLE)
    }
    urls[APPLY_VARIABLE] = layout.url(OWNER_ROLE, dbname)
    return urls


def point_console_at(dbname: str, settings, monkeypatch) -> dict[str, str]:
    """Make another database of the test cluster the console's target, read and maintained
    as in production (its own roles: console_roles_on); return its URLs."""
    urls = console_roles_on(dbname)
    for variable, url in urls.items():
        monkeypatch.setenv(f"QT_{variable}", url)
    settings.TARGET = {
        **settings.TARGET,
        "URL_VAR": "QT_TARGET_DATABASE_URL",
        "READONLY_URL_VAR": "QT_TARGET_READONLY_DATABASE_URL",
        "MAINTENANCE_URL_VAR": "QT_TARGET_MAINTENANCE_DATABASE_URL",
        "APPLY_URL_VAR": "QT_MIGRATIONS_APPLY_DATABASE_URL",
    }
    return urls
