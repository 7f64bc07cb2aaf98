"""The README's "Running against your own database", followed to the letter on a fresh cluster.

The commands are read from the README (only the example URLs and path are swapped for real
ones), run as one shell script like a newcomer would paste them, against a throwaway cluster
made here (not the test run's) holding a project the console has never seen: the shop of
shop_project.py. Then every page is crawled as the admin operator `connect` created.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from core.netports import free_port
from tests.dashboard.onboarding.conftest import clean_environment, serving, shop_database
from tests.dashboard.onboarding.crawler import crawl, logged_in_client
from tests.dashboard.onboarding.shop_project import REVISIONS, URL_VARIABLE

ROOT = Path(__file__).resolve().parents[3]
SECTION = "### Running against your own database"
# The README's placeholders, each swapped for the real thing (the test fails if one is gone).
TARGET_EXAMPLE = "postgresql://app_owner:PASSWORD@db.example.com:5432/app"
ADMIN_EXAMPLE = "postgresql://postgres:PASSWORD@db.example.com:5432/postgres"
PROJECT_EXAMPLE = "../myapp/alembic.ini"
PASSWORD = re.compile(r"Generated password \(shown only now\): (\S+)")
# Sessions come and go between the Activity page and a visit to one of them (then a 404).
PASSING = re.compile(r"^/queries/activity/\d+/")

pytestmark = pytest.mark.slow


def readme_commands() -> str:
    """Return the shell block of the README's own-database section, as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION) :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the section has no ```sh block"
    return block.group(1)


@pytest.fixture
def shop(cluster, tmp_path) -> dict[str, str]:
    return shop_database(cluster, tmp_path, "shop")


def test_the_readme_own_database_section_works_as_written(shop):
    commands = readme_commands()
    for placeholder in (TARGET_EXAMPLE, ADMIN_EXAMPLE, PROJECT_EXAMPLE, "serve_console"):
        assert placeholder in commands, f"the README no longer shows {placeholder!r}"
    script = (
        commands.replace(TARGET_EXAMPLE, shop["target"])
        .replace(ADMIN_EXAMPLE, shop["admin"])
        .replace(PROJECT_EXAMPLE, shop["ini"])
    )
    port = free_port()
    # Only where the settings file goes and the port differ from a newcomer's run: the
    # repository's own .env (the demo's) must stay untouched.
    environment = {**clean_environment(), "DOTENV_FILE": shop["env_file"], "PORT": str(port)}
    with serving(["bash", "-c", script], environment, wait_seconds=300) as (base, output):
        assert base == f"http://127.0.0.1:{port}"

        # What connect did and found, as the README shows it.
        assert "5. Checks (run them again any time: python manage.py doctor)" in output.text
        assert f"✓ URL variable: {URL_VARIABLE}" in output.text
        assert "✓ models: shop.models" in output.text
        assert "✗" not in output.text, output.text  # nothing left broken
        # The console reads as a reader of its own; the owner's URL is written nowhere.
        assert "✓ the console reads as a reader" in output.text
        written = Path(shop["env_file"]).read_text()
        assert "TARGET_DATABASE_URL=postgresql://schemadesk_reader:" in written
        assert "shop_owner" not in written
        # The console's database admits its own roles only: the shop's owner is refused.
        assert "✓ only the console's roles open its database" in output.text
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(shop["target"].rsplit("/", 1)[0] + "/schemadesk").close()
        assert (Path(shop["env_file"]).stat().st_mode & 0o777) == 0o600

        password = PASSWORD.search(output.text)
        assert password, output.text
        client = logged_in_client(base, "operator", password.group(1))
        # The drift check runs on the shop's models, imported through ALEMBIC_PYTHONPATH on
        # the very first page (no Migrations page has loaded the project before), and agrees.
        schema = client.get("/schema/").text
        assert "could not be imported" not in schema and "No drift check" not in schema
        assert "differs from the models" not in schema

        seen = crawl(client, "/")
        seen_users = crawl(client, "/users/u/1/")  # a customer's page (it asks for a reason)
        failures = [f for f in seen.failures + seen_users.failures if not PASSING.search(f[4:])]
        assert not failures, failures
        visited = {**seen.visited, **seen_users.visited}
        assert len(visited) > 60
        for must in ("/schema/order/", "/data/order/", "/migrations/", "/queries/", "/users/u/1/"):
            assert must in visited, sorted(visited)
        for revision in REVISIONS:
            assert f"/migrations/revisions/{revision}/" in visited

        assert "Traceback" not in output.text, output.text


def test_without_a_privileged_role_connect_prints_what_to_run_then_finishes(cluster, tmp_path):
    from core.pgcluster import find_bindir

    shop = shop_database(cluster, tmp_path, "corner_shop")
    environment = {**clean_environment(), "DOTENV_FILE": shop["env_file"]}
    command = [
        sys.executable,
        "manage.py",
        "connect",
        shop["target"],
        "--alembic",
        shop["ini"],
        "--console-role",
        "corner_desk",
        "--console-database",
        "corner_desk",
    ]
    first = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    assert first.returncode == 2, first.stdout + first.stderr
    assert "corner_shop_owner may not do all of it. Run this as a superuser" in first.stdout
    assert "Then run this command again: nothing more was done." in first.stdout
    script = first.stdout[first.stdout.index("\\connect ") :].split("\n\n", 1)[0]
    assert 'CREATE ROLE "corner_desk" LOGIN PASSWORD' in script
    assert 'CREATE DATABASE "corner_desk"' in script
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in script
    # The console's own roles in the target; the owner's rights are left as they are.
    assert 'CREATE ROLE "corner_desk_reader" LOGIN PASSWORD' in script
    assert 'GRANT pg_read_all_stats TO "corner_desk_reader"' in script
    assert 'CREATE ROLE "corner_desk_maintenance" LOGIN PASSWORD' in script
    assert 'TO "corner_desk_maintenance"' in script.split("CREATE EXTENSION")[1]  # the reset
    assert 'ALTER ROLE "corner_shop_owner"' not in script
    assert '\\connect corner_desk\nCREATE SCHEMA IF NOT EXISTS "django"' in script
    # Only the console's role, and the one running connect, may connect to its database.
    assert 'REVOKE CONNECT ON DATABASE "corner_desk" FROM PUBLIC;' in script
    assert 'GRANT CONNECT ON DATABASE "corner_desk" TO "corner_desk", "corner_shop_owner";' in (
        script
    )

    # A superuser runs it exactly as printed; the same command then does the rest.
    psql = find_bindir() / "psql"
    subprocess.run(
        [str(psql), shop["admin"], "-v", "ON_ERROR_STOP=1", "-q"],
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )
    second = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    assert "may not do" not in second.stdout
    assert "role corner_desk logs in (password from the .env file)" in second.stdout
    # Django's migrations need the audit owner lent for their run, which only a superuser may
    # do here: connect says exactly what to run, as which role.
    assert second.returncode == 2, second.stdout + second.stderr
    assert "corner_shop_owner may not lend the audit owner to corner_desk" in second.stdout
    lend = next(
        line for line in second.stdout.splitlines() if line.startswith("AUDIT_ADMIN_DATABASE_URL=")
    )
    superuser = shop["admin"].rsplit("/", 1)[0] + "/corner_desk"
    lend = lend.replace("postgresql://…/corner_desk", superuser)
    subprocess.run(["bash", "-c", lend], cwd=ROOT, env=environment, check=True, capture_output=True)

    third = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "✓ migrate" in third.stdout and "✗" not in third.stdout
    # The console reads as its reader; the owner's URL (and password) is written nowhere.
    written = Path(shop["env_file"]).read_text()
    assert "TARGET_DATABASE_URL=postgresql://corner_desk_reader:" in written
    assert "TARGET_MAINTENANCE_DATABASE_URL=postgresql://corner_desk_maintenance:" in written
    owner_password = shop["target"].split(":")[2].split("@")[0]
    assert "corner_shop_owner" not in written and owner_password not in written
    assert "✓ the console reads as a reader" in third.stdout
    reader = next(
        line.split("=", 1)[1]
        for line in written.splitlines()
        if line.startswith("TARGET_DATABASE_URL=")
    )
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(reader.rsplit("/", 1)[0] + "/corner_desk").close()
