"""Is pg_stat_statements usable on the target, and if not, exactly what to do about it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from psycopg.errors import ObjectNotInPrerequisiteState
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.suggested_sql import quote_identifier
from dashboard.target import target_location, target_url

MINIMUM_VERSION = (1, 9)  # toplevel and pg_stat_statements_info (PostgreSQL 14)
READY_CACHE_SECONDS = 30.0  # a usable extension stays usable; a broken one is re-checked each time

EXTENSION_SQL = text(
    """
    SELECT
        current_database() AS database,
        current_user AS role,
        current_setting('server_version_num')::int AS server_version_num,
        EXISTS (
            SELECT 1
            FROM pg_catalog.pg_available_extensions
            WHERE name = 'pg_stat_statements'
        ) AS available,
        e.extversion AS version,
        n.nspname AS schema,
        current_setting('pg_stat_statements.track', true) AS track,
        current_setting('pg_stat_statements.max', true) AS max_entries,
        current_setting('neon.tenant_id', true) IS NOT NULL AS on_neon,
        pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats
    FROM (SELECT 1) AS one
    LEFT JOIN pg_catalog.pg_extension AS e
        ON e.extname = 'pg_stat_statements'
    LEFT JOIN pg_catalog.pg_namespace AS n
        ON n.oid = e.extnamespace
    """
)

PROBE_SQL = "SELECT 1 FROM {function}(showtext := false) LIMIT 1"

INFO_SQL = "SELECT stats_reset, dealloc FROM {schema}.pg_stat_statements_info"


@dataclass(frozen=True)
class StatementsStatus:
    """Whether pg_stat_statements can be read; when not, a sentence and the steps to fix it."""

    ready: bool
    problem: str | None = None  # not_available, not_created, not_preloaded, outdated
    sentence: str = ""
    fix: list[str] = field(default_factory=list)  # SQL or shell lines to run, in order
    schema: str | None = None
    version: str | None = None
    database: str = ""
    role: str = ""
    server_version_num: int = 0
    on_neon: bool = False
    warnings: list[str] = field(default_factory=list)
    max_entries: int | None = None

    def function(self, conn: Connection) -> str:
        """Return the schema-qualified, quoted name of the pg_stat_statements function."""
        return qualified(conn, self.schema or "public", "pg_stat_statements")


def qualified(conn: Connection, schema: str, name: str) -> str:
    """Return schema.name quoted as identifiers (the schema comes from the catalog)."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    return f"{quote(schema)}.{quote(name)}"


def _looks_like_neon(flag: bool) -> bool:
    return flag or (urlsplit(target_url()).hostname or "").endswith(".neon.tech")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _not_created(row: dict, on_neon: bool) -> StatementsStatus:
    if on_neon:
        sentence = (
            f"pg_stat_statements is not enabled in database “{row['database']}”. On Neon it is "
            "available and preloaded: create the extension (as the database owner) and reload."
        )
        fix = ["CREATE EXTENSION pg_stat_statements;"]
    else:
        sentence = (
            f"pg_stat_statements is installed on the server but not enabled in database "
            f"“{row['database']}”. Create the extension (as a superuser or the database owner). "
            "If the page then says the library is not loaded, also add it to "
            "shared_preload_libraries and restart."
        )
        fix = ["CREATE EXTENSION pg_stat_statements;"]
    return StatementsStatus(
        False, "not_created", sentence, fix, database=row["database"], on_neon=on_neon
    )


def _not_preloaded(row: dict, on_neon: bool) -> StatementsStatus:
    return StatementsStatus(
        False,
        "not_preloaded",
        "The pg_stat_statements extension exists, but the server did not load its library at "
        "start-up, so it records nothing. Add it to shared_preload_libraries and restart "
        "PostgreSQL (on a managed service, set the parameter in its console).",
        [
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';"
            "  -- keep any libraries already listed, comma-separated",
            "-- then restart PostgreSQL, e.g. sudo systemctl restart postgresql",
        ],
        schema=row["schema"],
        version=row["version"],
        database=row["database"],
        on_neon=on_neon,
    )


def statements_status(conn: Connection) -> StatementsStatus:
    """Return whether pg_stat_statements is readable, probing it inside a savepoint."""
    row = dict(conn.execute(EXTENSION_SQL).mappings().one())
    on_neon = _looks_like_neon(bool(row["on_neon"]))
    if row["version"] is None:
        if not row["available"]:
            return StatementsStatus(
                False,
                "not_available",
                "pg_stat_statements is not installed on the database server. Install the "
                "PostgreSQL contrib package, preload the library, restart, then create the "
                "extension.",
                [
                    "sudo apt-get install postgresql-contrib   # Debian/Ubuntu; part of the server "
                    "package on most other platforms",
                    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';",
                    "-- restart PostgreSQL, then:",
                    "CREATE EXTENSION pg_stat_statements;",
                ],
                database=row["database"],
                on_neon=on_neon,
            )
        return _not_created(row, on_neon)
    if _version_tuple(row["version"]) < MINIMUM_VERSION:
        return StatementsStatus(
            False,
            "outdated",
            f"pg_stat_statements {row['version']} is older than "
            f"{'.'.join(map(str, MINIMUM_VERSION))}, which this page needs. Update the "
            "extension (PostgreSQL 14 or newer ships a recent enough version).",
            ["ALTER EXTENSION pg_stat_statements UPDATE;"],
            schema=row["schema"],
            version=row["version"],
            database=row["database"],
            on_neon=on_neon,
        )
    function = qualified(conn, row["schema"], "pg_stat_statements")
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(PROBE_SQL.format(function=function)).all()
    except DBAPIError as exc:
        savepoint.rollback()
        if isinstance(exc.orig, ObjectNotInPrerequisiteState):
            return _not_preloaded(row, on_neon)
        raise
    savepoint.commit()
    warnings = []
    if not row["reads_all_stats"]:
        warnings.append(
            f"The console's role “{row['role']}” sees only its own statements. Grant it the "
            f"statistics of all roles: GRANT pg_read_all_stats TO {quote_identifier(row['role'])};"
        )
    if row["track"] == "none":
        warnings.append(
            "pg_stat_statements.track is 'none', so no new statements are recorded. "
            "Set it to 'top' (or 'all') and reload the configuration."
        )
    max_entries = int(row["max_entries"]) if (row["max_entries"] or "").isdigit() else None
    return StatementsStatus(
        True,
        schema=row["schema"],
        version=row["version"],
        database=row["database"],
        role=row["role"],
        server_version_num=row["server_version_num"],
        on_neon=on_neon,
        warnings=warnings,
        max_entries=max_entries,
    )


def statements_info(conn: Connection, status: StatementsStatus) -> dict[str, Any]:
    """Return when the statistics were last reset and how many entries were evicted since."""
    schema = conn.dialect.identifier_preparer.quote_identifier(status.schema or "public")
    row = conn.exec_driver_sql(INFO_SQL.format(schema=schema)).mappings().one()
    return {"stats_reset": row["stats_reset"], "dealloc": row["dealloc"]}


_ready_cache: dict[str, tuple[float, StatementsStatus]] = {}
_ready_lock = threading.Lock()


def ready_statements_status(conn: Connection) -> StatementsStatus:
    """Return statements_status(), reusing a recent "ready" answer for the same target.

    Checking takes four round trips (catalog, savepoint, probe, release); the list page is read
    often and the answer rarely changes. Only a ready status is reused, so a page that showed
    how to fix the extension shows the fix's effect on the next load.
    """
    key = target_location()
    with _ready_lock:
        cached = _ready_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    status = statements_status(conn)
    if status.ready:
        with _ready_lock:
            _ready_cache[key] = (time.monotonic() + READY_CACHE_SECONDS, status)
    return status


def forget_statements_status() -> None:
    """Drop the cached status (tests; after the extension was dropped)."""
    with _ready_lock:
        _ready_cache.clear()
