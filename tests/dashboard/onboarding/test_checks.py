"""The setup checklist, run against the test cluster (laid out as `make demo` lays it out)."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from dashboard.branches.neon_console_copy import DatabaseAddress
from dashboard.history.project import forget_projects
from dashboard.history.url_variable import forget_detected
from dashboard.onboarding import checks
from dashboard.onboarding.checklist import BAD, OK, WARN, Check, checklist_text
from dashboard.onboarding.cookies import cookies_over_http
from tests.dashboard.branches.neon_fixtures import fake, neon_settings  # noqa: F401 - fixtures
from tests.dashboard.queries.conftest import as_superuser, hypopg_schema  # noqa: F401 - fixture
from tests.unavailable import unavailable

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch_database(settings, monkeypatch):
    """Point the target at a new, empty database owned by the target role."""
    from tests.dashboard.history.conftest import (
        create_owned_database,
        drop_database_and_branches,
        owner_url,
    )

    name = create_owned_database("onboard")
    monkeypatch.setenv("ONBOARD_TARGET_URL", owner_url(name))
    settings.TARGET = {**settings.TARGET, "URL_VAR": "ONBOARD_TARGET_URL"}
    yield name
    drop_database_and_branches(name)


@pytest.fixture(autouse=True)
def _fresh():
    forget_projects()
    forget_detected()
    yield
    forget_projects()
    forget_detected()


def _by_title(found: list[Check]) -> dict[str, Check]:
    return {check.title: check for check in found}


def test_the_prepared_database_passes_what_the_setup_does(settings):
    settings.SECURE_COOKIES = False
    found = _by_title(checks.setup_checks())
    for title in (
        "the console's tables live in schema django",
        "the console cannot erase the audit trail",
        "only the console's roles open its database",
        "branches hold no copy of the console's database",
        "pg_stat_statements is loaded",
        "pg_stat_statements is created",
        "the console reads as a reader",
        "no role the console logs in as may create roles",
        "every role's statements and sessions are visible",
        "pg_stat_statements_reset is granted",
        "cancel and terminate (admins, Activity page)",
        "branches can be made",
        "the read-only role for EXPLAIN ANALYZE",
        "the Alembic project loads",
        "env.py's URL variable (ALEMBIC_URL_ENV)",
        "the models module imports (drift check)",
        "cookies and http",
    ):
        assert found[title].status == OK, found[title]
    assert "APP_DIRECT_URL" in found["env.py's URL variable (ALEMBIC_URL_ENV)"].found
    models = found["the models module imports (drift check)"].found
    assert models == "core.models: 4 SQLModel tables"


def test_a_missing_reset_grant_gives_the_exact_statement_that_fixes_it():
    revoke = (
        "REVOKE EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) "
        "FROM schemadesk_maintenance"
    )
    as_superuser(revoke)
    try:
        broken = checks.statements_reset_granted(checks.target_facts())
        assert broken.status == BAD
        assert broken.fix.startswith("as a superuser: GRANT EXECUTE ON FUNCTION ")
        as_superuser(broken.fix.removeprefix("as a superuser: "))  # the fix, run as printed
        assert checks.statements_reset_granted(checks.target_facts()).status == OK
    finally:
        as_superuser(revoke.replace("REVOKE", "GRANT").replace("FROM", "TO"))


def test_without_pg_stat_statements_the_checks_say_how_to_create_it(scratch_database):
    from dashboard import target

    target.reset_engine()
    try:
        facts = checks.target_facts()  # a database where the extension was never created
    finally:
        target.reset_engine()
    assert checks.statements_created(facts).status == BAD
    assert checks.statements_created(facts).fix == "CREATE EXTENSION pg_stat_statements;"
    assert checks.statements_loaded(facts).status == WARN
    assert checks.statements_reset_granted(facts).status == WARN


def test_a_server_that_did_not_preload_the_library_says_how():
    from dashboard.queries.extension import StatementsStatus

    facts = dataclasses.replace(
        checks.target_facts(),
        statements=StatementsStatus(
            False, "not_preloaded", "not loaded", ["ALTER SYSTEM SET x;"], schema="public"
        ),
    )
    loaded = checks.statements_loaded(facts)
    assert loaded.status == BAD and loaded.fix == "ALTER SYSTEM SET x;"
    assert checks.statements_created(facts).status == OK


HYPOPG = "hypopg (hypothetical indexes)"


def _target_facts() -> checks.TargetFacts:
    """Return the target's facts read on a fresh engine (the target may have just moved)."""
    from dashboard import target

    target.reset_engine()
    try:
        return checks.target_facts()
    finally:
        target.reset_engine()


def test_hypopg_created_in_the_target_is_ready(settings, hypopg_schema):
    settings.SECURE_COOKIES = False
    found = _by_title(checks.setup_checks())
    assert found[HYPOPG] == Check(HYPOPG, OK, f"in schema {hypopg_schema}")


def test_hypopg_not_created_in_the_target_says_how_and_the_fix_works(scratch_database):
    if not as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
        unavailable(
            "hypopg is not installed on this PostgreSQL server "
            "(Debian/Ubuntu: apt-get install postgresql-15-hypopg)."
        )
    check = checks.hypopg_ready(_target_facts())  # a database where it was never created
    assert check.status == WARN
    assert check.found.startswith(
        f"installed on the server, not created in database {scratch_database}: "
    )
    prefix = f"as a superuser, in database {scratch_database}: "
    assert check.fix == prefix + "CREATE EXTENSION hypopg;"

    # The fix, run as it says, makes the check pass.
    as_superuser(check.fix.removeprefix(prefix), dbname=scratch_database)
    ready = checks.hypopg_ready(_target_facts())
    assert (ready.status, ready.found) == (OK, "in schema public")


def test_hypopg_missing_from_the_server_says_what_to_install():
    facts = dataclasses.replace(checks.target_facts(), hypopg_schema=None, hypopg_available=False)
    check = checks.hypopg_ready(facts)
    assert (check.status, check.found) == (WARN, "not installed on the server (optional)")
    assert "apt-get install postgresql-NN-hypopg" in check.fix
    assert check.fix.endswith("CREATE EXTENSION hypopg;")


def test_branches_need_createdb_locally_and_credentials_on_neon(settings, monkeypatch):
    found = checks.target_facts()
    assert checks.branches_possible(found).status == OK
    facts = dataclasses.replace(
        found, maintenance=dataclasses.replace(found.maintenance, createdb=False)
    )
    local = checks.branches_possible(facts)
    fix = 'ALTER ROLE "schemadesk_maintenance" CREATEDB NOCREATEROLE;'
    assert local.status == BAD and fix in local.fix
    settings.BRANCH_PROVIDER = "neon"
    settings.NEON_PROJECT_ID = ""
    monkeypatch.delenv("NEON_API_KEY", raising=False)
    neon = checks.branches_possible(facts)
    assert neon.status == BAD and "NEON_API_KEY and NEON_PROJECT_ID" in neon.found
    settings.NEON_PROJECT_ID = "p-1"
    monkeypatch.setenv("NEON_API_KEY", "k")
    assert checks.branches_possible(facts).status == OK


# ---- no login may create roles (on PostgreSQL 15 they could grant the audit owner) ------------


@pytest.mark.parametrize(
    ("role", "variable"),
    [
        ("schemadesk", "DATABASE_URL"),
        ("schemadesk_reader", "TARGET_DATABASE_URL"),
        ("schemadesk_readonly", "TARGET_READONLY_DATABASE_URL"),
        ("schemadesk_maintenance", "TARGET_MAINTENANCE_DATABASE_URL"),
        ("todo_app", "TARGET_WRITE_DATABASE_URL"),
        ("todo_owner", "MIGRATIONS_APPLY_DATABASE_URL"),
    ],
)
def test_a_login_with_createrole_is_flagged_with_the_fix(settings, monkeypatch, role, variable):
    from dashboard.target import migrations_apply_url

    settings.TARGET = {**settings.TARGET, "APPLY_URL_VAR": "MIGRATIONS_APPLY_DATABASE_URL"}
    monkeypatch.setenv("QT_WRITE_URL", os.environ["TARGET_WRITE_DATABASE_URL"])
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": "QT_WRITE_URL"}
    assert "todo_owner" in (migrations_apply_url() or "")
    assert checks.no_login_creates_roles(checks.target_facts()).status == OK
    as_superuser(f"ALTER ROLE {role} CREATEROLE")
    try:
        flagged = checks.no_login_creates_roles(checks.target_facts())
        assert flagged.status == BAD
        assert f"{role} ({variable}) has CREATEROLE" in flagged.found
        assert "schemadesk_audit included" in flagged.found
        fix = f"ALTER ROLE {role} NOCREATEROLE;"
        assert fix in flagged.fix
        as_superuser(fix)  # the fix, run as printed
        assert checks.no_login_creates_roles(checks.target_facts()).status == OK
    finally:
        as_superuser(f"ALTER ROLE {role} NOCREATEROLE")


def test_a_login_that_may_act_as_a_role_with_createrole_is_flagged():
    as_superuser("CREATE ROLE qt_creator NOLOGIN CREATEROLE")
    as_superuser("GRANT qt_creator TO schemadesk_reader")
    try:
        flagged = checks.no_login_creates_roles(checks.target_facts())
        assert flagged.status == BAD
        assert "schemadesk_reader (TARGET_DATABASE_URL) may act as qt_creator" in flagged.found
        assert "REVOKE qt_creator FROM schemadesk_reader;" in flagged.fix
    finally:
        as_superuser("DROP ROLE qt_creator")
    assert checks.no_login_creates_roles(checks.target_facts()).status == OK


@pytest.mark.parametrize(
    ("breach", "undo", "found"),
    [
        (
            "GRANT schemadesk_role_admin TO todo_owner",
            "REVOKE schemadesk_role_admin FROM todo_owner",
            "schemadesk_role_admin, which create_branch_role runs as, is a member of a role or "
            "has a member",
        ),
        (
            "GRANT schemadesk_audit TO schemadesk_role_admin",
            "REVOKE schemadesk_audit FROM schemadesk_role_admin",
            "is a member of a role or has a member",
        ),
        (
            "ALTER ROLE schemadesk_role_admin LOGIN",
            "ALTER ROLE schemadesk_role_admin NOLOGIN",
            "schemadesk_role_admin, which drop_branch_role runs as, can log in",
        ),
        (
            "GRANT EXECUTE ON FUNCTION schemadesk_roles.create_branch_role(text) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION schemadesk_roles.create_branch_role(text) FROM PUBLIC",
            "PUBLIC may execute create_branch_role too",
        ),
        (
            "ALTER FUNCTION schemadesk_roles.drop_branch_role(text) SECURITY INVOKER",
            "ALTER FUNCTION schemadesk_roles.drop_branch_role(text) SECURITY DEFINER",
            "drop_branch_role does not run as a role with CREATEROLE",
        ),
    ],
)
def test_branch_role_functions_that_could_be_turned_around_are_flagged(breach, undo, found):
    assert checks.branches_possible(checks.target_facts()).status == OK
    as_superuser(breach)
    try:
        flagged = checks.branches_possible(checks.target_facts())
    finally:
        as_superuser(undo)
    assert flagged.status == BAD and found in flagged.found, flagged
    assert checks.branches_possible(checks.target_facts()).status == OK


def test_branches_without_the_functions_say_what_to_run():
    revoke = (
        "REVOKE EXECUTE ON FUNCTION schemadesk_roles.set_branch_role_password(text, text) "
        "FROM schemadesk_maintenance"
    )
    as_superuser(revoke)
    try:
        flagged = checks.branches_possible(checks.target_facts())
    finally:
        as_superuser(revoke.replace("REVOKE", "GRANT").replace("FROM", "TO"))
    assert flagged.status == BAD
    assert "may not call the functions of schema schemadesk_roles" in flagged.found
    assert "README's setup by hand" in flagged.fix


def test_a_console_reading_as_the_owner_is_told_to_use_a_reader(settings):
    from dashboard import target

    assert checks.reader_harmless(checks.target_facts()).status == OK
    # The layout before the reader: every page read as the owner of the tables.
    settings.TARGET = {**settings.TARGET, "URL_VAR": "APP_DIRECT_URL"}
    target.reset_engine()
    try:
        warned = checks.reader_harmless(checks.target_facts())
    finally:
        target.reset_engine()
    assert warned.status == WARN
    assert "todo_owner (TARGET_DATABASE_URL) may end or cancel other sessions" in warned.found
    assert "owns or may write tables of schema public" in warned.found
    assert "set TARGET_DATABASE_URL" in warned.fix


def test_a_maintenance_role_without_the_rights_is_told_what_to_grant(settings, monkeypatch):
    """TARGET_MAINTENANCE_DATABASE_URL naming the application's runtime role: it may neither
    signal, reset, nor clone; and a role that does not exist is said so."""
    settings.TARGET = {**settings.TARGET, "MAINTENANCE_URL_VAR": "APP_DATABASE_URL"}
    facts = checks.target_facts()
    signals = checks.backends_signalable(facts)
    assert signals.status == WARN
    grant = 'GRANT pg_signal_backend, pg_read_all_stats TO "todo_app";'
    assert signals.fix == f"as a superuser: {grant}"
    as_superuser(signals.fix.removeprefix("as a superuser: "))  # the fix, run as printed
    try:
        assert checks.backends_signalable(checks.target_facts()).status == OK
    finally:
        as_superuser("REVOKE pg_signal_backend, pg_read_all_stats FROM todo_app")
    assert checks.statements_reset_granted(facts).status == BAD
    assert checks.branches_possible(facts).status == BAD
    monkeypatch.setenv("QT_GONE_URL", "postgresql://qt_gone:pw@127.0.0.1:5432/x")
    settings.TARGET = {**settings.TARGET, "MAINTENANCE_URL_VAR": "QT_GONE_URL"}
    gone = checks.target_facts()
    assert checks.backends_signalable(gone).status == BAD
    assert "there is no role qt_gone" in checks.backends_signalable(gone).found
    assert checks.statements_reset_granted(gone).status == WARN


def test_a_wrong_alembic_url_env_is_named_with_the_variable_env_py_reads(settings):
    settings.ALEMBIC_URL_ENV = "DATABASE_URL"
    check, project = checks.alembic_project()
    assert check.status == OK
    found = checks.url_variable(project)
    assert found.status == BAD
    assert "ALEMBIC_URL_ENV is DATABASE_URL, but env.py reads APP_DIRECT_URL" in found.found
    assert found.fix == "set ALEMBIC_URL_ENV=APP_DIRECT_URL"


def test_the_models_module_off_or_broken(settings):
    settings.SCHEMA_MODELS = ""
    assert checks.models_module().status == WARN
    settings.SCHEMA_MODELS = "onboarding_no_such.models"
    broken = checks.models_module()
    assert broken.status == BAD and "ModuleNotFoundError" in broken.found


def test_a_models_module_raising_with_a_url_shows_no_password(settings, tmp_path, monkeypatch):
    (tmp_path / "onboard_leaky_models.py").write_text(
        "raise RuntimeError('cannot reach postgresql://app:s3cret-pw@db.example/app')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.SCHEMA_MODELS = "onboard_leaky_models"
    found = checks.models_module()
    assert found.status == BAD
    assert "RuntimeError: cannot reach postgresql://app:***@db.example/app" in found.found
    assert "s3cret-pw" not in found.found


@pytest.mark.parametrize(
    ("secure_cookies", "request_secure", "status"),
    [(True, False, BAD), (True, True, OK), (False, False, OK), (True, None, WARN)],
)
def test_cookies_and_http(settings, secure_cookies, request_secure, status):
    settings.SECURE_COOKIES = secure_cookies
    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.CSRF_TRUSTED_ORIGINS = []
    assert cookies_over_http(request_secure).status == status


def test_a_target_that_does_not_answer_is_one_line(settings, monkeypatch):
    from dashboard import target

    monkeypatch.setenv("ONBOARD_DOWN_URL", "postgresql://u:p@127.0.0.1:1/nothing")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "ONBOARD_DOWN_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    try:
        found = checks.setup_checks()
    finally:
        target.reset_engine()
    down = [check for check in found if check.title == "the target database answers"]
    assert len(down) == 1 and down[0].status == BAD


def test_a_target_refusing_the_password_says_so_without_it(settings, monkeypatch):
    """A wrong password is not an unreachable server: the check gives the server's reason."""
    from urllib.parse import urlsplit, urlunsplit

    from dashboard import target

    parts = urlsplit(os.environ["TARGET_DATABASE_URL"])
    secret = "wrong-Pa55-never-shown"
    netloc = f"{parts.username}:{secret}@{parts.hostname}:{parts.port}"
    monkeypatch.setenv("ONBOARD_REFUSED_URL", urlunsplit(parts._replace(netloc=netloc)))
    settings.TARGET = {**settings.TARGET, "URL_VAR": "ONBOARD_REFUSED_URL"}
    target.reset_engine()
    try:
        found = _by_title(checks.setup_checks())["the target database answers"]
    finally:
        target.reset_engine()
    assert found.status == BAD
    assert f'password authentication failed for user "{parts.username}"' in found.found
    assert secret not in found.found


def test_the_text_puts_a_fix_under_each_problem():
    text = checklist_text([Check("a", OK, "fine", "unused"), Check("bee", BAD, "broken", "do")])
    assert text.splitlines() == ["  ✓ a    fine", "  ✗ bee  broken", "         fix: do"]


def test_doctor_prints_the_checklist_and_fails_on_a_problem(settings, capsys):
    settings.SECURE_COOKIES = False
    call_command("doctor")
    assert "Setup checks" in capsys.readouterr().out
    settings.SCHEMA_MODELS = "onboarding_no_such.models"
    with pytest.raises(SystemExit) as exit_info:
        call_command("doctor")
    assert exit_info.value.code == 1
    assert "✗ the models module imports" in capsys.readouterr().out


def test_the_read_only_role_is_checked_for_harm(settings):
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": ""}
    assert checks.read_only_role().status == WARN
    # The target's own role, as "read-only" role: it owns the tables, so it is refused.
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "APP_DIRECT_URL"}
    harmful = checks.read_only_role()
    assert harmful.status == BAD and "owns or may write tables" in harmful.found


def test_a_console_role_left_in_the_audit_owner_is_reported():
    as_superuser("GRANT schemadesk_audit TO schemadesk")
    try:
        found = checks.audit_trail_protected()
    finally:
        as_superuser("REVOKE schemadesk_audit FROM schemadesk")
    assert found.status == BAD and "is a member of schemadesk_audit" in found.found
    assert checks.audit_trail_protected().status == OK


def test_the_text_wraps_long_lines_under_their_column():
    found = "word " * 40
    text = checklist_text([Check("title", BAD, found.strip(), "fix " * 30)], columns=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("  ✗ title  word") and lines[1].startswith(" " * 11 + "word")
    assert any(line.startswith(" " * 11 + "fix: fix") for line in lines)


def test_doctor_flags_applying_switched_on_without_the_owner_url(settings, capsys):
    settings.SECURE_COOKIES = False
    assert checks.migrations_apply().status == OK  # off
    settings.MIGRATIONS_APPLY_ENABLED = True
    assert checks.migrations_apply().status == OK  # on, with the owner's URL
    settings.TARGET = {**settings.TARGET, "APPLY_URL_VAR": ""}
    with pytest.raises(SystemExit) as exit_info:
        call_command("doctor")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "✗ applying migrations from the console" in out
    assert "fix: set MIGRATIONS_APPLY_DATABASE_URL" in out


# ---- the console's own database: who may open it, and whether Neon branches copy it -------


def test_a_console_database_open_to_every_role_is_told_how_to_close_it():
    facts = checks.console_database_facts()
    assert not facts.public_connects  # the layout admits only its own roles
    assert checks.console_database_closed(facts).status == OK
    database = facts.database
    as_superuser(f'GRANT CONNECT ON DATABASE "{database}" TO PUBLIC')
    try:
        opened = checks.console_database_facts()
        found = checks.console_database_closed(opened)
    finally:
        as_superuser(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    assert opened.public_connects
    assert found.status == WARN and "granted to PUBLIC" in found.found
    assert f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC;' in found.fix
    assert f'GRANT CONNECT ON DATABASE "{database}" TO "schemadesk";' in found.fix
    # The test layout keeps the console's tables in the target's database: its roles stay in.
    assert "application's roles too" in found.fix


def test_local_branches_copy_no_console_database(settings):
    settings.BRANCH_PROVIDER = "local"
    found = checks.console_database_not_copied(checks.console_database_facts())
    assert found.status == OK


def test_on_neon_a_console_database_on_the_targets_compute_is_a_warning(fake, neon_settings):
    facts = checks.console_database_facts()
    # The test cluster is both DATABASE_URL's and TARGET_DATABASE_URL's server.
    closed = checks.console_database_not_copied(facts)
    assert closed.status == WARN
    assert "on the target's own 127.0.0.1:" in closed.found
    assert "every branch made from its branch holds a copy" in closed.found
    assert "CONNECT is revoked from PUBLIC" in closed.found
    move = f"host the console's database outside Neon project {fake.project_id}"
    assert closed.fix.startswith(move)

    opened = checks.console_database_not_copied(dataclasses.replace(facts, public_connects=True))
    assert opened.status == WARN and "a branch's revealed role can open" in opened.found
    assert f'REVOKE CONNECT ON DATABASE "{facts.database}" FROM PUBLIC;' in opened.fix
    assert not fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")

    # The same Neon compute, one URL through the pooler: the same.
    target = DatabaseAddress("ep-calm-sea-123456.us-east-2.aws.neon.tech", 5432, "app")
    pooled = DatabaseAddress.from_url(
        "postgresql://u@ep-calm-sea-123456-pooler.us-east-2.aws.neon.tech/schemadesk"
    )
    same = checks.console_database_not_copied(facts, console=pooled, target=target)
    assert same.status == WARN and "Neon compute ep-calm-sea-123456" in same.found


def test_on_neon_the_project_is_asked_where_the_console_database_is(fake, neon_settings):
    facts = checks.console_database_facts()
    target = DatabaseAddress(fake.endpoint_host(fake.default_branch_id), 5432, "neondb")
    console_branch = fake.add_branch("console", with_endpoint=True)
    in_project = DatabaseAddress(fake.endpoint_host(console_branch), 5432, "schemadesk")
    found = checks.console_database_not_copied(facts, console=in_project, target=target)
    assert found.status == WARN
    assert f"of branch {console_branch}, in project {fake.project_id}" in found.found

    elsewhere = DatabaseAddress("ep-other-999999.eu-central-1.aws.neon.tech", 5432, "schemadesk")
    outside = checks.console_database_not_copied(facts, console=elsewhere, target=target)
    assert outside.status == OK and "outside project" in outside.found
    asked = fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")
    assert len(asked) == 2

    other_server = DatabaseAddress("db.example.com", 5432, "schemadesk")
    away = checks.console_database_not_copied(facts, console=other_server, target=target)
    assert away.status == OK
    assert len(fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")) == 2

    fake.fail_next(503)
    unknown = checks.console_database_not_copied(facts, console=in_project, target=target)
    assert unknown.status == WARN and "Neon could not be asked" in unknown.found


def test_doctor_and_the_overview_warn_of_the_copies_on_neon(fake, neon_settings, capsys):
    call_command("doctor")
    out = " ".join(capsys.readouterr().out.split())  # the columns wrapped
    assert "! branches hold no copy of the console's database" in out
    assert f"fix: host the console's database outside Neon project {fake.project_id}" in out

    from dashboard.home.overview_checks import setup_line

    line = setup_line(request_secure=True)
    assert any(
        f.text.startswith("branches hold no copy of the console's database") for f in line.findings
    )


def _doctor(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `manage.py doctor` in a process of its own, with `environment`."""
    root = Path(__file__).resolve().parents[3]
    doctor = [sys.executable, "manage.py", "doctor"]
    return subprocess.run(doctor, cwd=root, env=environment, capture_output=True, text=True)


def test_doctor_with_a_console_database_that_refuses_says_so_in_a_sentence():
    """DATABASE_URL with a wrong password: doctor names the problem in one line, with no
    traceback and without the password, and fails."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    secret = "wrong-Pa55-never-shown"
    netloc = f"{parts.username}:{secret}@{parts.hostname}:{parts.port}"
    environment = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(netloc=netloc)),
        "DOTENV_FILE": "",
    }
    ran = _doctor(environment)
    said = ran.stdout + ran.stderr
    assert ran.returncode == 1, said
    assert "Traceback" not in said, said
    assert "✗ the console's database answers" in ran.stdout
    assert "password authentication failed" in ran.stdout
    assert "fix: check DATABASE_URL" in ran.stdout
    assert secret not in said


def test_doctor_with_a_models_module_of_no_tables_warns():
    """SCHEMA_MODELS naming a module that imports but defines no SQLModel table (a fresh
    process, as doctor runs: nothing else registered one) is a warning, not a pass."""
    ran = _doctor({**os.environ, "SCHEMA_MODELS": "json"})
    assert "! the models module imports (drift check)" in ran.stdout, ran.stdout + ran.stderr
    assert "json imports, but defines no SQLModel tables" in ran.stdout
