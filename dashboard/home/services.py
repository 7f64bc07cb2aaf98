"""What the overview and the health check show about both databases."""

from __future__ import annotations

import time

from django.db import DatabaseError, InterfaceError, connection
from sqlalchemy import Connection, text

from dashboard.errors import console_database_unreachable
from dashboard.target import TargetError, run_read, target_location, target_schema

OVERVIEW_SQL = text(
    """
    SELECT
        split_part(current_setting('server_version'), ' ', 1) AS server_version,
        pg_database_size(current_database()) AS database_bytes,
        (SELECT count(*)
         FROM pg_catalog.pg_class AS c
         JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = :schema
           AND c.relkind IN ('r', 'p')) AS table_count,
        (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE datname = current_database()) AS connections,
        to_regclass(quote_ident(:schema) || '.alembic_version') IS NOT NULL AS has_alembic
    """
)

ALEMBIC_VERSION_SQL = "SELECT version_num FROM {schema}.alembic_version ORDER BY version_num"


def _overview(conn: Connection) -> dict[str, object]:
    schema = target_schema()
    row = conn.execute(OVERVIEW_SQL, {"schema": schema}).mappings().one()
    info = dict(row)
    info["alembic_versions"] = []
    if row["has_alembic"]:
        quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
        info["alembic_versions"] = list(
            conn.exec_driver_sql(ALEMBIC_VERSION_SQL.format(schema=quoted)).scalars()
        )
    return info


def target_overview() -> dict[str, object]:
    """Return server version, size, table count, connections and Alembic revision(s)."""
    info = run_read(_overview)
    info["location"] = target_location()
    info["schema"] = target_schema()
    return info


def target_probe() -> dict[str, object]:
    """Return the target's overview plus the time it took, for the example job."""
    started = time.perf_counter()
    info = target_overview()
    info["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return info


# What /healthz says about a database that does not answer (no host, port or driver text:
# the endpoint is public).
DOWN_SENTENCES = {
    "console": "The console's own database (DATABASE_URL) is not answering.",
    "target": "The target database is not answering.",
}


def _timed(name: str, check) -> dict[str, object]:
    started = time.perf_counter()
    try:
        check()
    except TargetError as exc:
        return {"ok": False, "error": exc.sentence}
    except (DatabaseError, InterfaceError) as exc:
        if console_database_unreachable(exc):
            return {"ok": False, "error": DOWN_SENTENCES[name]}
        return {"ok": False, "error": type(exc).__name__}
    except Exception as exc:  # the health check must answer whatever broke
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _console_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    if schema != "django":
        raise TargetError(
            f"the console's tables resolve to schema {schema!r}, not 'django' "
            "(run: ALTER ROLE <console role> SET search_path = django)"
        )


def health() -> dict[str, object]:
    """Return the status of both databases; `down` names those that do not answer."""
    checks = {
        "console": _timed("console", _console_database),
        "target": _timed("target", lambda: run_read(lambda conn: conn.execute(text("SELECT 1")))),
    }
    down = [name for name, check in checks.items() if not check["ok"]]
    return {"ok": not down, "down": down, "databases": checks}
