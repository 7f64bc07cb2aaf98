"""Which sessions and statements are the console's own, so the pages can hide them by default.

Every connection the console opens names itself with `application_name = schemadesk` (Django's
own database, the target gateway, the worker, branch and trial-run maintenance, pg_dump). That
tells sessions apart in `pg_stat_activity`. `pg_stat_statements` records no application name,
so statements are told apart by role: the roles of the console's own URLs (DATABASE_URL, the
reader of TARGET_DATABASE_URL, the read-only role of EXPLAIN ANALYZE, the maintenance role of
TARGET_MAINTENANCE_DATABASE_URL) are the console's, except a role that owns or may write a
table of the application's schema (or is a superuser): that role is the application's too (the
owner runs its migrations; in a layout without a reader, the console reads as the owner), so
only CONSOLE_ROLES, whose roles always count as the console's, may claim it.
"""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, text

APPLICATION_NAME = "schemadesk"
APPLICATION_ROLES_SECONDS = 60.0  # grants change rarely; a minute-old answer is good enough

# Of the given roles, those that are the application's as well: a superuser, or a role that
# owns (or is a member of the owner of) or may write a table of the application's schema.
APPLICATION_ROLES_SQL = text(
    """
    SELECT r.rolname AS role
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY(CAST(:roles AS text[]))
      AND (
          r.rolsuper
          OR EXISTS (
              SELECT 1
              FROM pg_catalog.pg_class AS c
              JOIN pg_catalog.pg_namespace AS n
                  ON n.oid = c.relnamespace
              WHERE n.nspname = :schema
                AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND (
                    pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
                    OR pg_catalog.has_table_privilege(
                        r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'
                    )
                )
          )
      )
    """
)

_application_roles: dict[tuple[str, str, tuple[str, ...]], tuple[float, frozenset[str]]] = {}


def _url_user(url: str) -> str:
    try:
        return unquote(urlsplit(url).username or "")
    except ValueError:
        return ""


def url_roles() -> frozenset[str]:
    """Return the roles of the console's own URLs (and its SET ROLE read-only role)."""
    from django.conf import settings

    from dashboard.target import maintenance_url, read_only_setup, target_url

    roles = {
        str(settings.DATABASES["default"].get("USER") or ""),
        _url_user(target_url()),
        _url_user(maintenance_url()),
    }
    read_only = read_only_setup()  # EXPLAIN ANALYZE's role: a login, or SET ROLE
    if read_only is not None:
        roles.add(read_only.role)
    roles.discard("")
    return frozenset(roles)


def application_roles(roles: frozenset[str], conn: Connection | None = None) -> frozenset[str]:
    """Return which of `roles` may write (or own) the application's tables, asked of the target
    through `conn` (or a read of its own) at most once a minute."""
    from dashboard.target import run_read, target_location, target_schema

    key = (target_location(), target_schema(), tuple(sorted(roles)))
    cached = _application_roles.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]

    def work(connection: Connection) -> frozenset[str]:
        params = {"roles": sorted(roles), "schema": target_schema()}
        return frozenset(connection.execute(APPLICATION_ROLES_SQL, params).scalars())

    found = work(conn) if conn is not None else run_read(work)
    _application_roles[key] = (time.monotonic() + APPLICATION_ROLES_SECONDS, found)
    return found


def forget_application_roles() -> None:
    """Forget what the target said about the console's roles (after grants changed; tests)."""
    _application_roles.clear()


def console_roles(conn: Connection | None = None) -> tuple[str, ...]:
    """Return the database roles whose statements and sessions are the console's own.

    `conn`, a read-only connection to the target, saves a read of its own when the answer
    is not cached.
    """
    from django.conf import settings

    named = {str(role).strip() for role in getattr(settings, "CONSOLE_ROLES", []) if role}
    candidates = url_roles()
    roles = (candidates - application_roles(candidates, conn)) | named
    return tuple(sorted(roles - {""}))


def is_console_session(application: str, username: str, roles: tuple[str, ...]) -> bool:
    """Return True when a session (from pg_stat_activity) is one the console opened."""
    return application == APPLICATION_NAME or username in roles
