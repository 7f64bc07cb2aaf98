"""`manage.py connect --console-in-target`: the console's schema `django` in the application's
own database, end to end on a fresh cluster (conftest's) holding the shop project.

connect puts the schema there and no database of its own; the application's tables stay alone
in `public`, and neither the application's owner nor the console's reader may read the
console's tables; the console then serves from that database, its worker runs a job there, and
a local branch of the target is made without the console's schema.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from core.envfile import read_env_file
from core.netports import free_port
from dashboard.onboarding.connect import lend_command, main
from dashboard.onboarding.provision import Server
from tests.dashboard.onboarding.conftest import clean_environment, serving, shop_database
from tests.dashboard.onboarding.crawler import logged_in_client
from tests.dashboard.onboarding.shop_project import write_shop_project

ROOT = Path(__file__).resolve().parents[3]
OPERATOR_PASSWORD = "in the target 42"
SHOP_TABLES = {"customer", "order", "alembic_version"}
CONSOLE_TABLES = {"auth_user", "django_session", "audit_auditevent", "jobs_jobrun"}
PAGES = ["/", "/schema/", "/data/", "/migrations/", "/queries/", "/queries/activity/", "/audit/"]

pytestmark = pytest.mark.slow


def _tables(conn: psycopg.Connection, schema: str) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    return {name for (name,) in rows}


def _csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies["csrftoken"], "Referer": str(client.base_url) + "/"}


def _job_ended(superuser: str, run_id: int) -> tuple[str, str]:
    """Wait for the job to end (a bound on waiting, not a speed test); return status, error."""
    for _ in range(600):
        with psycopg.connect(superuser) as conn:
            status, error = conn.execute(
                "SELECT status, error FROM django.jobs_jobrun WHERE id = %s", (run_id,)
            ).fetchone()
        if status not in ("queued", "running"):
            return status, error
        time.sleep(0.2)
    raise AssertionError(f"job {run_id} still {status} after 2 minutes")


def test_console_in_target_puts_its_schema_in_the_target_and_serves_from_there(cluster, tmp_path):
    shop = shop_database(cluster, tmp_path, "inshop")
    environment = {
        **clean_environment(),
        "DOTENV_FILE": shop["env_file"],
        "OPERATOR_PASSWORD": OPERATOR_PASSWORD,
    }
    connect = subprocess.run(
        [
            *(sys.executable, "manage.py", "connect", shop["target"], "--alembic", shop["ini"]),
            *("--admin-url", shop["admin"], "--console-in-target"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = connect.stdout + connect.stderr
    assert connect.returncode == 0, said
    assert "✗" not in said and "Traceback" not in said, said
    assert (
        "✓ schema django in inshop (the target's database), owned by schemadesk_audit, "
        "schemadesk's search_path" in said
    )
    assert "created for the console" not in said  # no database of its own

    # The console's tables are read and written in the target's database.
    written = read_env_file(Path(shop["env_file"]))
    console = Server(written["DATABASE_URL"])
    assert (console.user, console.dbname) == ("schemadesk", "inshop")
    assert Server(written["TARGET_DATABASE_URL"]).dbname == "inshop"
    superuser = cluster.superuser_url("inshop")
    with psycopg.connect(superuser) as conn:
        assert _tables(conn, "public") == SHOP_TABLES  # the application's schema untouched
        assert _tables(conn, "django") >= CONSOLE_TABLES
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'django'"
        ).fetchone()
        assert owner == ("schemadesk_audit",)
        databases = {name for (name,) in conn.execute("SELECT datname FROM pg_database")}
    assert "schemadesk" not in databases
    # Sharing a database, the application's owner and the console's reader still cannot read
    # the operators, their sessions or the audit trail.
    for url in (shop["target"], written["TARGET_DATABASE_URL"]):
        with (
            psycopg.connect(url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema django"),
        ):
            conn.execute("SELECT count(*) FROM django.auth_user")

    command = ["manage.py", "serve_console", "--port", str(free_port()), "--strict-port"]
    with serving([sys.executable, *command], environment, wait_seconds=120) as (base, output):
        client = logged_in_client(base, "operator", OPERATOR_PASSWORD)
        assert client.get("/healthz").json()["ok"] is True
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        # The schema page shows the application's tables, not the console's beside them.
        schema = client.get("/schema/").text
        assert "/schema/customer/" in schema and "/schema/order/" in schema
        assert not [table for table in CONSOLE_TABLES if table in schema]

        # The worker takes jobs from the target's database: a local branch of it, which holds
        # the application's data and not the console's schema.
        made = client.post(
            "/branches/new/", data={"name": "in-target", "parent": "inshop"}, headers=_csrf(client)
        )
        assert made.status_code == 302, made.text[:2000]
        run_id = int(re.search(r"/jobs/(\d+)/", made.headers["Location"]).group(1))  # type: ignore[union-attr]
        assert _job_ended(superuser, run_id) == ("succeeded", "")
        with psycopg.connect(superuser) as conn:
            (branch,) = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, 'inshop__br__')"
            ).fetchone()
        with psycopg.connect(cluster.superuser_url(branch)) as conn:
            assert _tables(conn, "public") == SHOP_TABLES
            assert conn.execute("SELECT count(*) FROM customer").fetchone() == (30,)
            schemas = {name for (name,) in conn.execute("SELECT nspname FROM pg_namespace")}
        assert "django" not in schemas
        assert "Traceback" not in output.text, output.text


# ---- a newcomer's mistakes stop connect with a sentence, before anything is made -------------


def _console_roles(role: str) -> set[str]:
    """Return which of the console's roles named after `role` exist on the test cluster."""
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"]) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
            ([role, f"{role}_reader", f"{role}_readonly", f"{role}_maintenance"],),
        )
        return {name for (name,) in rows}


@pytest.fixture
def mistaken(tmp_path) -> Iterator[tuple[list[str], str]]:
    """connect's arguments (the test run's target as its owner, a superuser, a shop project)
    and a console role of its own, whose roles are dropped afterwards if a run made them."""
    role = f"qt_mistake_{secrets.token_hex(3)}"
    ini = write_shop_project(tmp_path / "shop")
    arguments = [
        *(os.environ["APP_DIRECT_URL"], "--alembic", str(ini)),
        *("--admin-url", os.environ["PG_SUPERUSER_URL"], "--console-role", role),
        *("--console-database", role, "--env-file", str(tmp_path / "env"), "--print-env"),
    ]
    yield arguments, role
    superuser = Server(os.environ["PG_SUPERUSER_URL"])
    with psycopg.connect(superuser.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(role))
        )
    made = _console_roles(role)
    target = Server(os.environ["APP_DIRECT_URL"]).dbname
    for database in ("postgres", target):  # their grants, wherever a run made them
        with psycopg.connect(superuser.with_database(database), autocommit=True) as conn:
            for name in made:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with psycopg.connect(superuser.url, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (["--schema", "No Such"], "error: there is no schema No Such in "),
        (
            ["--alembic", "/nonexistent/alembic.ini"],
            "error: /nonexistent/alembic.ini is not a file",
        ),
    ],
)
def test_a_wrong_schema_or_alembic_path_stops_connect_before_anything_is_made(
    mistaken, capsys, change, sentence
):
    arguments, role = mistaken
    assert main([*arguments, *change]) == 2
    said = capsys.readouterr()
    assert sentence in said.out, said.out + said.err
    assert _console_roles(role) == set()


def test_an_env_file_it_cannot_write_stops_connect_before_anything_is_made(mistaken, capsys):
    """Else the roles get new passwords that no file holds."""
    arguments, role = mistaken
    arguments = [argument for argument in arguments if argument != "--print-env"]
    assert main([*arguments, "--env-file", "/nonexistent/folder/.env"]) == 2
    assert "error: cannot write /nonexistent/folder/.env" in capsys.readouterr().out
    assert _console_roles(role) == set()


def test_a_url_without_a_database_is_told_so(capsys):
    assert main(["postgresql://owner:pw@127.0.0.1:5432", "--alembic", "/nowhere"]) == 2
    assert "error: the URL names no database" in capsys.readouterr().out


def test_the_printed_lend_command_survives_the_shell_whatever_the_names():
    """The command that lends the audit owner for Django's migrations, for a console database
    and role with spaces and quotes: the shell gives each name back whole."""
    import shlex
    from urllib.parse import unquote, urlsplit

    database, role, python = "odd desk 'x", 'odd-desk "y', "/opt/my venv/bin/python"
    words = shlex.split(lend_command(python, database, role))
    variable, url = words[0].split("=", 1)
    assert variable == "AUDIT_ADMIN_DATABASE_URL"
    assert unquote(urlsplit(url).path[1:]) == database and " " not in url
    assert words[1:] == [
        *(python, "-m", "core.audit_owner", "--console-role", role, "--"),
        *(python, "manage.py", "migrate", "--noinput"),
    ]


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("postgresql://owner:p%zzSECRET@127.0.0.1:5432/app", "cannot be read: percent-encode"),
        ("postgresql://owner:p:w@SECRET@127.0.0.1:5432/app", "cannot be read: percent-encode"),
        ("postgresql://owner:p@ss#SECRET@127.0.0.1:5432/app", "holds a #"),
        ("mysql://owner:SECRET@127.0.0.1/app", "is not a postgresql:// URL"),
    ],
)
def test_a_malformed_url_is_a_sentence_that_does_not_quote_it(capsys, url, sentence):
    """A password pasted without percent-encoding: no traceback, and no piece of it shown."""
    assert main([url, "--alembic", "/nowhere"]) == 2
    said = capsys.readouterr()
    assert f"error: the owner's URL {sentence}" in said.out
    assert "SECRET" not in said.out + said.err
