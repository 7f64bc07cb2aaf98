"""The setup checklist, run against the test cluster (laid out as `make demo` lays it out)."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from dashboard.onboarding import checks, project_checks
from dashboard.onboarding.checklist import BAD, OK, WARN, Check, checklist_text
from dashboard.onboarding.cookies import cookies_over_http
from tests.dashboard.branches.neon_fixtures import fake, neon_settings  # noqa: F401 - fixtures
from tests.dashboard.queries.conftest import hypopg_schema  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_project")]


pytestmark = pytest.mark.django_db


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


HYPOPG = "hypopg (hypothetical indexes)"


def test_hypopg_created_in_the_target_is_ready(settings, hypopg_schema):
    settings.SECURE_COOKIES = False
    found = _by_title(checks.setup_checks())
    assert found[HYPOPG] == Check(HYPOPG, OK, f"in schema {hypopg_schema}")


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


def test_the_text_wraps_long_lines_under_their_column():
    found = "word " * 40
    text = checklist_text([Check("title", BAD, found.strip(), "fix " * 30)], columns=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("  ✗ title  word") and lines[1].startswith(" " * 11 + "word")
    assert any(line.startswith(" " * 11 + "fix: fix") for line in lines)


def test_doctor_flags_applying_switched_on_without_the_owner_url(settings, capsys):
    settings.SECURE_COOKIES = False
    assert project_checks.migrations_apply().status == OK  # off
    settings.MIGRATIONS_APPLY_ENABLED = True
    assert project_checks.migrations_apply().status == OK  # on, with the owner's URL
    settings.TARGET = {**settings.TARGET, "APPLY_URL_VAR": ""}
    with pytest.raises(SystemExit) as exit_info:
        call_command("doctor")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "✗ applying migrations from the console" in out
    assert "fix: set MIGRATIONS_APPLY_DATABASE_URL" in out


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
