"""Fixtures of the queries section: SQL as the owner/superuser, workload roles, hypopg.

Tables made here are prefixed `qt_` (unique to this section) and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from dashboard import target
from dashboard.schema import reflection
from tests.pgplugin import TEST_DATABASE, running_layout
from tests.unavailable import unavailable


def superuser_url(dbname: str = TEST_DATABASE) -> str:
    """Return the superuser's URL for a database of the test cluster."""
    parts = urlsplit(os.environ["PG_SUPERUSER_URL"])
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def as_superuser(sql: str, params: Any = None, dbname: str = TEST_DATABASE) -> list[tuple]:
    """Run one statement as the superuser (autocommit) and return its rows."""
    with psycopg.connect(superuser_url(dbname), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def as_owner(sql: str, params: Any = None) -> list[tuple]:
    """Run one statement as the target's owner role (autocommit) and return its rows."""
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def queryid_of(text: str, username: str | None = None) -> int:
    """Return the queryid pg_stat_statements recorded for exactly `text` in the test database."""
    rows = as_superuser(
        """
        SELECT s.queryid
        FROM pg_stat_statements AS s
        JOIN pg_database AS d ON d.oid = s.dbid
        JOIN pg_roles AS r ON r.oid = s.userid
        WHERE d.datname = current_database()
          AND s.query = %s
          AND (%s::text IS NULL OR r.rolname = %s)
        """,
        (text, username, username),
    )
    assert rows, f"pg_stat_statements has no entry for {text!r}"
    return rows[0][0]


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, every: float = 0.05) -> Any:
    """Return predicate()'s first truthy value, polling until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@pytest.fixture
def workload_role() -> Iterator[Callable[..., psycopg.Connection]]:
    """Create a throwaway login role; yield a function that opens connections as it."""
    name = f"qt_worker_{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    as_superuser(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    as_superuser(f"GRANT CONNECT ON DATABASE {TEST_DATABASE} TO {name}")
    as_superuser(f"GRANT USAGE ON SCHEMA public TO {name}")
    opened: list[psycopg.Connection] = []
    port = running_layout().port

    def connect(**kwargs: Any) -> psycopg.Connection:
        conn = psycopg.connect(
            f"postgresql://{name}:{password}@127.0.0.1:{port}/{TEST_DATABASE}",
            autocommit=True,
            **kwargs,
        )
        opened.append(conn)
        return conn

    connect.role = name  # type: ignore[attr-defined]
    yield connect
    for conn in opened:
        conn.close()
    as_superuser(f"DROP OWNED BY {name}")
    as_superuser(f"DROP ROLE {name}")


@contextmanager
def scratch_table(name: str, ddl: str, *more: str) -> Iterator[str]:
    """Create a `qt_` table as the owner (plus statements after it); drop it afterwards."""
    assert name.startswith("qt_")
    as_owner(f"DROP TABLE IF EXISTS {name} CASCADE")
    as_owner(ddl)
    for statement in more:
        as_owner(statement)
    reflection.invalidate()
    try:
        yield name
    finally:
        as_owner(f"DROP TABLE IF EXISTS {name} CASCADE")
        reflection.invalidate()


@pytest.fixture(autouse=True)
def _fresh_target(settings) -> Iterator[None]:
    """Each test sees schema changes at once and gets its own engine."""
    settings.REFLECTION_CHECK_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reflection.invalidate()
    yield
    reflection.invalidate()


@pytest.fixture(scope="session")
def hypopg_schema() -> str:
    """Enable hypopg in the test database (in its own schema); return the schema."""
    available = as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'")
    if not available:
        unavailable(
            "hypopg is not installed on this PostgreSQL server "
            "(Debian/Ubuntu: apt-get install postgresql-15-hypopg)."
        )
    as_superuser("CREATE SCHEMA IF NOT EXISTS hypopg")
    as_superuser("CREATE EXTENSION IF NOT EXISTS hypopg SCHEMA hypopg")
    as_superuser("GRANT USAGE ON SCHEMA hypopg TO PUBLIC")
    return str(
        as_superuser(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'hypopg'"
        )[0][0]
    )


@pytest.fixture(scope="module")
def dblink() -> Iterator[None]:
    """Enable dblink in the test database for a module (skip if the server lacks it)."""
    if not as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'"):
        unavailable("dblink is not installed on this PostgreSQL server (postgresql-contrib).")
    as_superuser("CREATE EXTENSION IF NOT EXISTS dblink")
    yield
    as_superuser("DROP EXTENSION IF EXISTS dblink")


@pytest.fixture
def reset_engine() -> Iterator[None]:
    """Give the test a fresh target engine and drop it afterwards."""
    target.reset_engine()
    yield
    target.reset_engine()
