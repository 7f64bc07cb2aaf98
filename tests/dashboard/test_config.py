"""Bad configuration stops start-up with a sentence naming the variable (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_PASSWORD = "s3cr3t-pw-do-not-print"


def _manage_check(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["DOTENV_FILE"] = ""  # a local .env must not fill in what the test removed
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_database_url_names_the_variable():
    result = _manage_check(DATABASE_URL=None)
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"mysql://u:{SECRET_PASSWORD}@host/db", "scheme is 'mysql'"),
        (f"postgresql://u:{SECRET_PASSWORD}@host:99999/db", "malformed"),
        (f"postgresql://u:{SECRET_PASSWORD}@/db", "host is missing"),
        (f"postgresql://u:{SECRET_PASSWORD}@host:5432/", "database name is missing"),
    ],
)
def test_malformed_database_url_names_the_variable_and_hides_the_password(value, problem):
    result = _manage_check(DATABASE_URL=value)
    assert result.returncode == 2
    assert "DATABASE_URL is malformed" in result.stderr
    assert problem in result.stderr
    assert SECRET_PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_malformed_target_url_names_target_variable():
    result = _manage_check(TARGET_DATABASE_URL=f"http://u:{SECRET_PASSWORD}@h/db")
    assert result.returncode == 2
    assert "TARGET_DATABASE_URL is malformed" in result.stderr
    assert SECRET_PASSWORD not in result.stderr


def test_missing_secret_key_is_explained():
    result = _manage_check(SECRET_KEY=None)
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr


def test_good_configuration_passes_the_check():
    result = _manage_check()
    assert result.returncode == 0, result.stderr


def test_the_direct_url_is_derived_from_a_neon_pooler_host(monkeypatch):
    from dashboard.config import direct_database_url

    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@ep-cool-1-pooler.eu.aws.neon.tech/db")
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
    assert direct_database_url("DATABASE_URL", "DATABASE_DIRECT_URL") == (
        "postgresql://u:pw@ep-cool-1.eu.aws.neon.tech/db"
    )
    monkeypatch.setenv("DATABASE_DIRECT_URL", "postgresql://u:pw@db.internal:5432/db")
    assert direct_database_url("DATABASE_URL", "DATABASE_DIRECT_URL") == (
        "postgresql://u:pw@db.internal:5432/db"
    )


def test_a_malformed_direct_url_names_the_variable():
    result = _manage_check(DATABASE_DIRECT_URL="mysql://nowhere")
    assert result.returncode == 2
    assert "DATABASE_DIRECT_URL is malformed" in result.stderr


def test_the_worker_listens_on_the_direct_url_and_queries_through_database_url(settings):
    from dashboard.jobs.worker import LISTEN_APPLICATION_NAME, listen_connection_kwargs

    settings.DATABASE_DIRECT_URL = "postgresql://direct:pw@10.1.2.3:6543/consoledb"
    listen = listen_connection_kwargs()
    assert (listen["host"], listen["port"], listen["dbname"], listen["user"]) == (
        "10.1.2.3",
        "6543",
        "consoledb",
        "direct",
    )
    assert listen["application_name"] == LISTEN_APPLICATION_NAME


def test_a_heartbeat_timeout_shorter_than_three_beats_is_refused():
    result = _manage_check(JOB_HEARTBEAT_INTERVAL_SECONDS="10", JOB_HEARTBEAT_TIMEOUT_SECONDS="20")
    assert result.returncode == 2
    assert "JOB_HEARTBEAT_TIMEOUT_SECONDS must be at least three" in result.stderr
