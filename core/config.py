"""Database settings of the application, read from the environment only.

| variable                 | default                                          |
|--------------------------|--------------------------------------------------|
| APP_DATABASE_URL         | required: the pooled URL the application uses    |
| APP_DIRECT_URL           | APP_DATABASE_URL with `-pooler` removed from host |
| APP_CONNECT_TIMEOUT      | 5 (seconds)                                      |
| APP_STATEMENT_TIMEOUT_MS | unset: the server's default                      |
| APP_APPLICATION_NAME     | todo-app                                         |
| APP_POOL_SIZE            | 5                                                |
| APP_MAX_OVERFLOW         | 5                                                |
| APP_DISABLE_PREPARE      | auto: on when the host is a `-pooler` host       |

Passwords are never part of an error message: URLs are shown through `redact_url`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DRIVER = "postgresql+psycopg"
POOLER_SUFFIX = "-pooler"
_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_EXAMPLE = "postgresql://user:password@host:5432/dbname"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class ConnectionOptions:
    """How connections are opened and pooled (everything but the URLs)."""

    connect_timeout: int = 5
    statement_timeout_ms: int | None = None
    application_name: str = "todo-app"
    pool_size: int = 5
    max_overflow: int = 5
    disable_prepare: bool | None = None  # None: decide from the host name


@dataclass(frozen=True)
class DatabaseSettings:
    """How the application (pooled URL) and the migrations (direct URL) reach the database."""

    app_url: URL
    direct_url: URL
    options: ConnectionOptions = field(default_factory=ConnectionOptions)


def redact_url(url: URL | str) -> str:
    """Return the URL as text with its password replaced by ***."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<unparsable URL>"
    return url.render_as_string(hide_password=True)


def parse_database_url(value: str | None, variable: str) -> URL:
    """Return `value` as a psycopg 3 SQLAlchemy URL, or raise ConfigError naming `variable`."""
    if value is None or not value.strip():
        raise ConfigError(f"{variable} is not set: expected a URL like {_EXAMPLE}")
    try:
        url = make_url(value.strip())
    except ArgumentError:
        # The text may hold a password: say what is expected, never echo it.
        raise ConfigError(
            f"{variable} is not a valid database URL: expected a URL like {_EXAMPLE}"
        ) from None
    if url.drivername not in _SCHEMES:
        raise ConfigError(
            f"{variable} must be a PostgreSQL URL (postgresql://...), "
            f"not {url.drivername}://... ({redact_url(url)})"
        )
    if not url.host or not url.database:
        raise ConfigError(
            f"{variable} must name a host and a database, like {_EXAMPLE} (got {redact_url(url)})"
        )
    return url.set(drivername=DRIVER)


def uses_pooler(url: URL) -> bool:
    """Return True when the host is a Neon pooled endpoint (`ep-...-pooler.region...`)."""
    first_label = (url.host or "").split(".", 1)[0]
    return first_label.endswith(POOLER_SUFFIX)


def direct_url_from(url: URL) -> URL:
    """Return the direct (unpooled) URL of a pooled one: `-pooler` removed from the host."""
    if not uses_pooler(url):
        return url
    first, _, rest = (url.host or "").partition(".")
    host = first.removesuffix(POOLER_SUFFIX) + ("." + rest if rest else "")
    return url.set(host=host)


def _int(environ: Mapping[str, str], name: str, default: int | None, minimum: int) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _tristate(environ: Mapping[str, str], name: str) -> bool | None:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of auto, true, false; got {raw!r}")


def direct_url(environ: Mapping[str, str] | None = None) -> URL:
    """Return the migrations URL: APP_DIRECT_URL, else derived from APP_DATABASE_URL."""
    environ = os.environ if environ is None else environ
    if environ.get("APP_DIRECT_URL", "").strip():
        return parse_database_url(environ["APP_DIRECT_URL"], "APP_DIRECT_URL")
    if not environ.get("APP_DATABASE_URL", "").strip():
        raise ConfigError(
            f"Neither APP_DIRECT_URL nor APP_DATABASE_URL is set: expected a URL like {_EXAMPLE}"
        )
    return direct_url_from(parse_database_url(environ["APP_DATABASE_URL"], "APP_DATABASE_URL"))


def load_options(environ: Mapping[str, str] | None = None) -> ConnectionOptions:
    """Return the connection options read from `environ` (no URL needed)."""
    environ = os.environ if environ is None else environ
    return ConnectionOptions(
        connect_timeout=_int(environ, "APP_CONNECT_TIMEOUT", 5, 1) or 5,
        statement_timeout_ms=_int(environ, "APP_STATEMENT_TIMEOUT_MS", None, 0),
        application_name=environ.get("APP_APPLICATION_NAME", "").strip() or "todo-app",
        pool_size=_int(environ, "APP_POOL_SIZE", 5, 1) or 5,
        max_overflow=_int(environ, "APP_MAX_OVERFLOW", 5, 0) or 0,
        disable_prepare=_tristate(environ, "APP_DISABLE_PREPARE"),
    )


def load_settings(environ: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Return the database settings read from `environ` (default: os.environ)."""
    environ = os.environ if environ is None else environ
    app_url = parse_database_url(environ.get("APP_DATABASE_URL"), "APP_DATABASE_URL")
    if environ.get("APP_DIRECT_URL", "").strip():
        migrations_url = parse_database_url(environ["APP_DIRECT_URL"], "APP_DIRECT_URL")
    else:
        migrations_url = direct_url_from(app_url)
    return DatabaseSettings(
        app_url=app_url, direct_url=migrations_url, options=load_options(environ)
    )


def libpq_dsn(url: URL) -> str:
    """Return the URL as a libpq connection string for psycopg.connect (no driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
