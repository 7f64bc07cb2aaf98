"""Alembic environment of the application's schema (models in core/models.py).

The URL comes from, in order: `-x url=...`, APP_DIRECT_URL, APP_DATABASE_URL with `-pooler`
removed from the host (migrations never run through a transaction-mode pooler). A caller may
also hand over an open connection in `config.attributes["connection"]`. Migrations run with
`SET lock_timeout` (MIGRATION_LOCK_TIMEOUT, default 5s), so a migration waiting behind a long
transaction fails fast instead of queueing every query of the application behind it, and with
`SET statement_timeout` (MIGRATION_STATEMENT_TIMEOUT, default 15min) against runaway steps.
Offline SQL (`--sql`) starts with the same two statements.
"""

from __future__ import annotations

import logging
import os
import re
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import URL, Connection

from core.config import ConfigError, direct_url, parse_database_url
from core.engine import create_direct_engine
from core.models import SQLModel

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata
_DURATION = re.compile(r"^\d+\s*(ms|s|min|h)?$")


def _duration(variable: str, default: str) -> str:
    """Return the duration in `variable` (like 5s, 500ms, 15min), validated to be safe inline."""
    value = os.environ.get(variable, "").strip() or default
    if not _DURATION.match(value):
        raise ConfigError(f"{variable} must look like 5s, 500ms or 15min, got {value!r}")
    return value


def _timeouts() -> list[str]:
    """Return the SET statements every migration runs under."""
    lock = _duration("MIGRATION_LOCK_TIMEOUT", "5s")
    statement = _duration("MIGRATION_STATEMENT_TIMEOUT", "15min")
    return [f"SET lock_timeout = '{lock}'", f"SET statement_timeout = '{statement}'"]


def _url() -> URL:
    """Return the URL to migrate: -x url=..., else APP_DIRECT_URL, else derived."""
    override = context.get_x_argument(as_dictionary=True).get("url")
    if override:
        return parse_database_url(override, "-x url")
    return direct_url()


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
        process_revision_directives=_skip_empty_autogenerate,
        **kwargs,
    )


def _skip_empty_autogenerate(context_, revision, directives) -> None:
    """Write no revision file when autogenerate finds nothing to change."""
    cmd_opts = getattr(config, "cmd_opts", None)
    if getattr(cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logging.getLogger("alembic").info("No changes in schema detected; no revision written.")


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (`alembic upgrade a:b --sql`)."""
    _configure(
        url=_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        # In the script too, so whoever runs it (and squawk) gets the same protection.
        for statement in _timeouts():
            context.execute(statement)
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    started_here = not connection.in_transaction()
    for statement in _timeouts():
        connection.exec_driver_sql(statement)
    if started_here:
        connection.commit()  # a session-level SET on a direct connection holds for every step
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations over a direct connection (never the pooler)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = create_direct_engine(_url(), application_name="alembic")
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
