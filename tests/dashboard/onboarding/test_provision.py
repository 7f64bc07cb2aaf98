"""`connect`'s database work on the test cluster: the console's database admits its roles only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from dashboard.onboarding.provision import ConsolePlan, Outcome, Server, prepare_console
from tests.dashboard.queries.conftest import as_superuser, superuser_url


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """Fresh names for a console role, its database and a role without rights; dropped after."""
    tag = secrets.token_hex(3)
    made = {
        "role": f"desk_{tag}",
        "database": f"desk_db_{tag}",
        "stranger": f"stranger_{tag}",
        "password": secrets.token_urlsafe(12),
    }
    yield made
    as_superuser(f'DROP DATABASE IF EXISTS "{made["database"]}" WITH (FORCE)', dbname="postgres")
    for role in (made["role"], made["stranger"]):
        as_superuser(f'DROP ROLE IF EXISTS "{role}"', dbname="postgres")


def _plan(names: dict[str, str]) -> ConsolePlan:
    return ConsolePlan(
        role=names["role"],
        password=names["password"],
        database=names["database"],
        in_target=False,
        readonly_password="unused",
    )


def test_the_console_database_connect_creates_refuses_every_other_role(names):
    target = Server(os.environ["APP_DIRECT_URL"])  # the application's owner, as given to connect
    admin = Server(superuser_url())
    outcome = Outcome()

    prepare_console(admin, target, _plan(names), outcome)

    assert not outcome.pending, outcome.script()
    database = names["database"]
    assert f"database {database} created for the console; only {names['role']} and" in " ".join(
        outcome.done
    )
    # The console's role gets in.
    with psycopg.connect(target.with_login(names["role"], names["password"], database)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database,)
    # Any other login role of the server is refused: the console's reader, the application's
    # owner, and a role made now, as a branch's role would be.
    as_superuser(f"CREATE ROLE \"{names['stranger']}\" LOGIN PASSWORD '{names['password']}'")
    others = [
        Server(os.environ["TARGET_DATABASE_URL"]).with_database(database),
        target.with_database(database),
        target.with_login(names["stranger"], names["password"], database),
    ]
    for url in others:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(url).close()


def test_a_role_that_may_not_create_them_gets_the_revoke_in_the_script(names):
    # The privileged role may neither create roles nor databases: everything is printed, the
    # REVOKE with the CREATE DATABASE, for a superuser to run.
    as_superuser(f"CREATE ROLE \"{names['stranger']}\" LOGIN PASSWORD '{names['password']}'")
    target = Server(os.environ["APP_DIRECT_URL"])
    admin = Server(target.with_login(names["stranger"], names["password"], target.dbname))
    as_superuser(f'GRANT CONNECT ON DATABASE "{target.dbname}" TO "{names["stranger"]}"')
    outcome = Outcome()
    try:
        prepare_console(admin, target, _plan(names), outcome)
    finally:
        as_superuser(f'REVOKE CONNECT ON DATABASE "{target.dbname}" FROM "{names["stranger"]}"')

    assert outcome.blocking
    script = outcome.script()
    database, role, stranger = names["database"], names["role"], names["stranger"]
    create = script.index(f'CREATE DATABASE "{database}";')
    revoke = script.index(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC;')
    grant = script.index(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}", "{stranger}";')
    assert script.index(f'CREATE ROLE "{role}" LOGIN PASSWORD') < create < revoke < grant
    assert not as_superuser("SELECT 1 FROM pg_database WHERE datname = %s", [database])
