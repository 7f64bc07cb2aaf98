"""Prepare a database on a private cluster the way production is laid out.

One database holds two schemas: `public` for the application (owned by `todo_owner`, used by
migrations and read by the console as its target) and `django` for the console's own tables
(the console's role `schemadesk` creates its tables there; its role default
`search_path = django` keeps Django out of `public` even behind a transaction-mode pooler).
`todo_app` is the application's runtime role: it owns nothing, so row-level security applies to
it. `schemadesk_readonly` is the role the console's EXPLAIN ANALYZE runs statements as: it may
SELECT the application's tables and nothing else. `schemadesk_audit` cannot log in: it owns
schema `django` and the audit trail, so the console can add events but never change, delete or
unprotect them (see core/audit_owner.py).
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
READONLY_ROLE = "schemadesk_readonly"
# Functions PostgreSQL lets every role run whose effect a read-only role should not have.
PUBLIC_SIDE_EFFECT_FUNCTIONS = ("lo_creat", "lo_create", "lo_from_bytea", "pg_logical_emit_message")
AUDIT_OWNER_ROLE = "schemadesk_audit"
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
            "TARGET_READONLY_DATABASE_URL": self.url(READONLY_ROLE),
            # Row changes write as the application's runtime role: row-level security holds it.
            "TARGET_WRITE_DATABASE_URL": self.url(APP_ROLE),
        }


def login_role_sql(cur: psycopg.Cursor, role: str, password: str, extra: str = "") -> sql.Composed:
    """Return CREATE ROLE (or ALTER ROLE when it exists) giving `role` a login and password."""
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    return sql.SQL("{} ROLE {} LOGIN PASSWORD {}" + (f" {extra}" if extra else "")).format(
        sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
    )


def _ensure_role(cur: psycopg.Cursor, role: str, password: str, extra: str = "") -> None:
    cur.execute(login_role_sql(cur, role, password, extra))


def console_schema_sql(role: str, schema: str = DJANGO_SCHEMA) -> list[sql.Composed]:
    """Return the statements making the console's schema and giving it to `role` as default.

    Run by an administrator in the database that holds the console's tables: the schema is not
    the console's own (audit_owner_sql gives it to the audit owner). A role default holds
    behind a transaction-mode pooler (Neon's -pooler host), where `SET search_path` would not.
    """
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(schema)),
        search_path_sql(role, schema),
    ]


def search_path_sql(role: str, schema: str = DJANGO_SCHEMA) -> sql.Composed:
    """Return the role default that puts `role`'s tables in `schema`."""
    return sql.SQL("ALTER ROLE {} SET search_path = {}").format(
        sql.Identifier(role), sql.Identifier(schema)
    )


def audit_owner_sql(
    cur: psycopg.Cursor,
    console_role: str = CONSOLE_ROLE,
    schema: str = DJANGO_SCHEMA,
    owner_role: str = AUDIT_OWNER_ROLE,
) -> list[sql.Composed]:
    """Return the statements creating the audit trail's owner and giving it the schema.

    The owner cannot log in. The console keeps USAGE and CREATE on the schema for its own
    tables, but does not own it: a schema's owner may drop it with everything inside, the
    audit table included. Idempotent; run by an administrator in the console's database.
    """
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner_role,))
    statements = []
    if not cur.fetchone():
        statements.append(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner_role)))
    statements.append(
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(
            sql.Identifier(schema), sql.Identifier(owner_role)
        )
    )
    statements.append(
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(console_role)
        )
    )
    return statements


# The reset functions of the installed pg_stat_statements (their arguments vary by version).
STATEMENTS_RESET_FUNCTIONS_SQL = """
    SELECT p.oid::regprocedure::text AS signature
    FROM pg_catalog.pg_proc AS p
    JOIN pg_catalog.pg_depend AS d
        ON d.classid = 'pg_catalog.pg_proc'::regclass
       AND d.objid = p.oid
       AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension AS e
        ON e.oid = d.refobjid
    WHERE e.extname = 'pg_stat_statements'
      AND p.proname = 'pg_stat_statements_reset'
    ORDER BY 1
"""


def reset_grant_sql(signature: str, role: str) -> sql.Composed:
    """Return the GRANT of one reset function (a regprocedure text, as Postgres quotes it)."""
    return sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
        sql.SQL(signature), sql.Identifier(role)
    )


def statements_reset_grant_sql(
    cur: psycopg.Cursor, role: str, only_missing: bool = False
) -> list[sql.Composed]:
    """Return the GRANTs letting `role` reset pg_stat_statements (none if it is not created).

    With only_missing, leave out the functions `role` may already execute.
    """
    cur.execute(STATEMENTS_RESET_FUNCTIONS_SQL)
    signatures = [signature for (signature,) in cur.fetchall()]
    if only_missing:
        signatures = [
            signature
            for signature in signatures
            if not cur.execute(
                "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')",
                (role, signature),
            ).fetchone()[0]  # type: ignore[index]
        ]
    return [reset_grant_sql(signature, role) for signature in signatures]


def prepare(cluster: Cluster, dbname: str, passwords: dict[str, str] | None = None) -> Layout:
    """Create roles, database and schemas (idempotent) and return the layout."""
    passwords = dict(passwords or {})
    for role in (CONSOLE_ROLE, OWNER_ROLE, APP_ROLE, READONLY_ROLE):
        passwords.setdefault(role, secrets.token_urlsafe(18))
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        cur = conn.cursor()
        # The owner reads statistics and signals backends like Neon's neondb_owner does, and
        # may create databases and roles (a local branch is a clone with a login role of its own).
        _ensure_role(cur, OWNER_ROLE, passwords[OWNER_ROLE], "CREATEDB CREATEROLE")
        _ensure_role(cur, APP_ROLE, passwords[APP_ROLE], "NOBYPASSRLS")
        _ensure_role(cur, CONSOLE_ROLE, passwords[CONSOLE_ROLE], "CREATEDB")
        cur.execute(
            sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(
                sql.Identifier(OWNER_ROLE)
            )
        )
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        if not cur.fetchone():
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(OWNER_ROLE)
                )
            )
        # Only the roles of this layout may connect: a branch's own role must not open it.
        cur.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(dbname)
            )
        )
        cur.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(dbname),
                sql.SQL(", ").join(sql.Identifier(r) for r in (OWNER_ROLE, APP_ROLE, CONSOLE_ROLE)),
            )
        )
    with psycopg.connect(cluster.superuser_url(dbname), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # The owner (the console's target role) may reset the statistics from the Queries page.
        for statement in statements_reset_grant_sql(cur, OWNER_ROLE):
            cur.execute(statement)
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
        # The console never writes to public, and the app role never sees `django`.
        for statement in console_schema_sql(CONSOLE_ROLE):
            cur.execute(statement)
        cur.execute(
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(
                sql.Identifier(CONSOLE_ROLE)
            )
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
    _prepare_readonly_role(cluster, dbname, passwords[READONLY_ROLE])
    _prepare_audit_owner(cluster, dbname)
    return Layout(dbname=dbname, port=cluster.port or 0, passwords=passwords)


def readonly_role_sql(
    cur: psycopg.Cursor,
    password: str,
    dbname: str,
    *,
    role: str = READONLY_ROLE,
    owner: str = OWNER_ROLE,
    schema: str = "public",
    owner_may_set_role: bool = True,
) -> list[sql.Composed]:
    """Return the statements making the read-only role EXPLAIN ANALYZE runs as (idempotent).

    It may log in, SELECT the application's tables (those the owner creates later too) and
    nothing else: no pg_signal_backend, no pg_read_all_stats, no write, no object of its own.
    BYPASSRLS lets its plans count the rows the application's users see, not the none a
    policy keyed on `app.current_user_id` leaves it. With owner_may_set_role, the owner may
    SET ROLE to it (the fallback when the console has no login for it).
    """
    names = {
        "role": sql.Identifier(role),
        "owner": sql.Identifier(owner),
        "db": sql.Identifier(dbname),
        "schema": sql.Identifier(schema),
    }
    grants = [
        "ALTER ROLE {role} SET default_transaction_read_only = on",
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
        "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        "GRANT SELECT ON TABLES TO {role}",
    ]
    if owner_may_set_role:
        grants.append("GRANT {role} TO {owner}")
    login = login_role_sql(cur, role, password, "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS")
    return [login, *(sql.SQL(statement).format(**names) for statement in grants)]


def public_side_effects_sql(
    cur: psycopg.Cursor, application_roles: list[str]
) -> list[sql.Composed]:
    """Return the statements taking large objects and WAL messages from PUBLIC in a database.

    Every role may create large objects and write WAL messages, and nothing in the read-only
    role's own privileges can stop it: the database takes that right from PUBLIC and gives it
    back to the application's roles only.
    """
    cur.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p "
        "WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY(%s)",
        (list(PUBLIC_SIDE_EFFECT_FUNCTIONS),),
    )
    statements = []
    grantees = sql.SQL(", ").join(sql.Identifier(role) for role in application_roles)
    for (function,) in cur.fetchall():
        signature = sql.SQL(function)  # from regprocedure: quoted by the server
        statements.append(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(signature))
        statements.append(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(signature, grantees))
    return statements


def _prepare_readonly_role(cluster: Cluster, dbname: str, password: str) -> None:
    """Create the read-only role EXPLAIN ANALYZE runs as, and fence this database for it."""
    with psycopg.connect(cluster.superuser_url(dbname), autocommit=True) as conn:
        cur = conn.cursor()
        for statement in readonly_role_sql(cur, password, dbname):
            cur.execute(statement)
        for statement in public_side_effects_sql(cur, [OWNER_ROLE, APP_ROLE]):
            cur.execute(statement)


def _prepare_audit_owner(cluster: Cluster, dbname: str) -> None:
    """Create the audit trail's owner (no login) and give it schema `django` (idempotent)."""
    with psycopg.connect(cluster.superuser_url(dbname), autocommit=True) as conn:
        cur = conn.cursor()
        for statement in audit_owner_sql(cur):
            cur.execute(statement)
