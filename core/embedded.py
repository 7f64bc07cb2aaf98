"""Prepare a database on a private cluster the way production is laid out.

One database holds two schemas: `public` for the application (owned by `todo_owner`, used by
migrations and read by the console as its target) and `django` for the console's own tables
(owned by `schemadesk`, whose role default `search_path = django` keeps Django out of `public`
even behind a transaction-mode pooler). `todo_app` is the application's runtime role: it owns
nothing, so row-level security applies to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from core.pgcluster import Cluster

CONSOLE_ROLE = "schemadesk"
OWNER_ROLE = "todo_owner"
APP_ROLE = "todo_app"
DJANGO_SCHEMA = "django"


@dataclass
class Layout:
    """Connection URLs of the prepared database (they contain passwords: never log them)."""

    dbname: str
    port: int
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, role: str, dbname: str | None = None) -> str:
        return (
            f"postgresql://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/"
            f"{dbname or self.dbname}"
        )

    def environment(self) -> dict[str, str]:
        """Return the environment variables the console and the application read."""
        return {
            "DATABASE_URL": self.url(CONSOLE_ROLE),
            "TARGET_DATABASE_URL": self.url(OWNER_ROLE),
            "APP_DATABASE_URL": self.url(APP_ROLE),
            "APP_DIRECT_URL": self.url(OWNER_ROLE),
        }


def _ensure_role(cur: psycopg.Cursor, role: str, password: str, extra: str = "") -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(
        sql.SQL("{} ROLE {} LOGIN PASSWORD {} " + extra).format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
        )
    )


def prepare(cluster: Cluster, dbname: str, passwords: dict[str, str] | None = None) -> Layout:
    """Create roles, database and schemas (idempotent) and return the layout."""
    passwords = dict(passwords or {})
    for role in (CONSOLE_ROLE, OWNER_ROLE, APP_ROLE):
        passwords.setdefault(role, secrets.token_urlsafe(18))
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        cur = conn.cursor()
        # The owner reads statistics and signals backends like Neon's neondb_owner does, and
        # may create databases (local branches are clones).
        _ensure_role(cur, OWNER_ROLE, passwords[OWNER_ROLE], "CREATEDB")
        _ensure_role(cur, APP_ROLE, passwords[APP_ROLE], "NOBYPASSRLS")
        _ensure_role(cur, CONSOLE_ROLE, passwords[CONSOLE_ROLE], "CREATEDB")
        cur.execute(
            sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(
                sql.Identifier(OWNER_ROLE)
            )
        )
        cur.execute(
            sql.SQL("ALTER ROLE {} SET search_path = {}").format(
                sql.Identifier(CONSOLE_ROLE), sql.Identifier(DJANGO_SCHEMA)
            )
        )
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        if not cur.fetchone():
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(OWNER_ROLE)
                )
            )
    with psycopg.connect(cluster.superuser_url(dbname), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
        cur.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(DJANGO_SCHEMA), sql.Identifier(CONSOLE_ROLE)
            )
        )
        # The console never writes to public, and the app role never sees `django`.
        cur.execute(
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(
                sql.Identifier(CONSOLE_ROLE)
            )
        )
        cur.execute(
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(DJANGO_SCHEMA))
        )
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP_ROLE)))
        # Tables the owner creates later (by migrations) are usable by the app role.
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ).format(sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE))
        )
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "GRANT USAGE, SELECT ON SEQUENCES TO {}"
            ).format(sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE))
        )
    return Layout(dbname=dbname, port=cluster.port or 0, passwords=passwords)
