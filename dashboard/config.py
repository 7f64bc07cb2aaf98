"""Reading and checking configuration from the environment (never printing secrets)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from sqlalchemy import make_url

from core.config import direct_url_from, uses_pooler
from dashboard.console_work import APPLICATION_NAME

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` (written by `make demo`, never committed) fills in what the real environment
# lacks; variables already set in the environment win. DOTENV_FILE names another file, or ""
# for none (the test run uses none).
DOTENV_FILE = os.environ.get("DOTENV_FILE", str(BASE_DIR / ".env"))
if DOTENV_FILE and Path(DOTENV_FILE).is_file():
    environ.Env.read_env(DOTENV_FILE, overwrite=False)

POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "pgsql"}
URL_SHAPE = "postgresql://USER:PASSWORD@HOST:PORT/DBNAME"


def checked_database_url(var: str, default: str | None = None) -> str:
    """Return the URL in `var`, or raise ImproperlyConfigured naming the variable."""
    value = env.str(var, default="") or (default or "")
    if not value:
        raise environ.ImproperlyConfigured(
            f"{var} is not set: give it a PostgreSQL URL such as {URL_SHAPE}."
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise environ.ImproperlyConfigured(
            f"{var} is malformed (it does not parse as a URL); expected {URL_SHAPE}."
        ) from None
    problems = []
    if parts.scheme not in POSTGRES_SCHEMES:
        problems.append(f"the scheme is {parts.scheme or 'missing'!r}, not 'postgresql'")
    if not parts.hostname:
        problems.append("the host is missing")
    if not parts.path.strip("/"):
        problems.append("the database name is missing")
    if port is not None and not 0 < port < 65536:
        problems.append("the port is out of range")
    if problems:
        raise environ.ImproperlyConfigured(
            f"{var} is malformed: {'; '.join(problems)}. Expected {URL_SHAPE}."
        )
    return value


def database_settings(var: str) -> dict[str, object]:
    """Return a Django DATABASES entry built from the URL in `var`."""
    url = checked_database_url(var).replace("postgresql+psycopg://", "postgresql://", 1)
    config = environ.Env.db_url_config(url)
    config["ENGINE"] = "django.db.backends.postgresql"
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    options = dict(config.get("OPTIONS") or {})
    options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_S", default=5))
    # The console names itself on every connection, so its own sessions can be told apart.
    options["application_name"] = APPLICATION_NAME
    # Behind PgBouncer in transaction mode, server-side prepared statements break.
    if uses_pooler(make_url(url)) or env.bool("DATABASE_POOLED", default=False):
        options["prepare_threshold"] = None
    config["OPTIONS"] = options
    return config


def direct_database_url(var: str, direct_var: str) -> str:
    """Return the URL in `direct_var`, else the one in `var` with Neon's `-pooler` removed.

    Used where a transaction pooler breaks the protocol (LISTEN/NOTIFY): the same database,
    reached without the pooler.
    """
    if env.str(direct_var, default=""):
        return checked_database_url(direct_var)
    url = checked_database_url(var).replace("postgresql+psycopg://", "postgresql://", 1)
    return direct_url_from(make_url(url)).render_as_string(hide_password=False)
