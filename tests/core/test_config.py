"""Settings from the environment: required URL, derived direct URL, clear errors, no secrets."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from core.config import (
    ConfigError,
    direct_url,
    direct_url_from,
    libpq_dsn,
    load_settings,
    redact_url,
    uses_pooler,
)

POOLED = "postgresql://app:s3cret-pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require"


def test_pooled_url_and_derived_direct_url():
    settings = load_settings({"APP_DATABASE_URL": POOLED})
    assert settings.app_url.drivername == "postgresql+psycopg"
    assert settings.app_url.host == "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    assert settings.direct_url.host == "ep-cool-darkness-123456.us-east-2.aws.neon.tech"
    assert settings.direct_url.query == {"sslmode": "require"}
    assert settings.direct_url.password == "s3cret-pw"
    assert settings.options.connect_timeout == 5
    assert settings.options.statement_timeout_ms is None


def test_explicit_direct_url_wins():
    settings = load_settings(
        {"APP_DATABASE_URL": POOLED, "APP_DIRECT_URL": "postgres://owner:pw@db.internal:5433/app"}
    )
    assert settings.direct_url.host == "db.internal"
    assert settings.direct_url.port == 5433
    assert settings.direct_url.drivername == "postgresql+psycopg"


def test_pooler_is_only_the_first_label():
    assert uses_pooler(make_url(POOLED))
    assert not uses_pooler(make_url("postgresql://u@db.eu-pooler.example.com/x"))
    plain = make_url("postgresql://u@localhost/x")
    assert direct_url_from(plain) == plain


def test_options_from_environment():
    settings = load_settings(
        {
            "APP_DATABASE_URL": POOLED,
            "APP_CONNECT_TIMEOUT": "9",
            "APP_STATEMENT_TIMEOUT_MS": "2500",
            "APP_APPLICATION_NAME": "todo-web",
            "APP_DISABLE_PREPARE": "false",
        }
    )
    assert settings.options.connect_timeout == 9
    assert settings.options.statement_timeout_ms == 2500
    assert settings.options.application_name == "todo-web"
    assert settings.options.disable_prepare is False


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "   "}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "not a url with pw hunter2"}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "mysql://u:hunter2@h/db"}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "postgresql://u:hunter2@/db"}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "postgresql://u:hunter2@host"}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": POOLED, "APP_DIRECT_URL": "http://u:hunter2@h/x"}, "APP_DIRECT_URL"),
        ({"APP_DATABASE_URL": POOLED, "APP_CONNECT_TIMEOUT": "soon"}, "APP_CONNECT_TIMEOUT"),
        (
            {"APP_DATABASE_URL": POOLED, "APP_STATEMENT_TIMEOUT_MS": "-1"},
            "APP_STATEMENT_TIMEOUT_MS",
        ),
        ({"APP_DATABASE_URL": POOLED, "APP_DISABLE_PREPARE": "maybe"}, "APP_DISABLE_PREPARE"),
    ],
)
def test_errors_name_the_variable_and_hide_the_password(environ: dict[str, str], variable: str):
    with pytest.raises(ConfigError) as error:
        load_settings(environ)
    message = str(error.value)
    assert variable in message
    assert "hunter2" not in message
    assert "s3cret-pw" not in message


def test_direct_url_alone_is_enough_for_migrations():
    assert direct_url({"APP_DIRECT_URL": "postgresql://o:pw@h/db"}).host == "h"
    assert direct_url({"APP_DATABASE_URL": POOLED}).host.startswith("ep-cool-darkness-123456.")
    with pytest.raises(ConfigError, match="APP_DIRECT_URL"):
        direct_url({})


def test_redaction_and_libpq_form():
    url = make_url(POOLED)
    assert "s3cret-pw" not in redact_url(url)
    assert "s3cret-pw" not in redact_url(POOLED)
    assert redact_url("no url, pw hunter2") == "<unparsable URL>"
    assert libpq_dsn(load_settings({"APP_DATABASE_URL": POOLED}).app_url).startswith(
        "postgresql://"
    )
