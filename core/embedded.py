"""Prepare a database the way production is laid out: roles, schemas, grants.

One database holds two schemas: `public` for the application (owned by `todo_owner`, which
runs its migrations) and `django` for the console's own tables (the console's role `schemadesk`
creates its tables there; its role default `search_path = django` keeps Django out of `public`
even behind a transaction-mode pooler). `todo_app` is the application's runtime role: it owns
nothing, so row-level security applies to it. The console reaches the application's schema
only through roles of its own, each with the least it needs:

- `schemadesk_reader` (TARGET_DATABASE_URL) reads the application's tables and the server's
  statistics (pg_read_all_stats), in read-only transactions, bypassing row-level security so
  that support sees every end-user's rows; it may write nothing and cannot enter `django`;
- `schemadesk_readonly` (TARGET_READONLY_DATABASE_URL) is the role EXPLAIN ANALYZE runs
  statements as: it may SELECT the application's tables and nothing else;
- `schemadesk_maintenance` (TARGET_MAINTENANCE_DATABASE_URL) does what is more than reading:
  local branch clones (CREATEDB, reading every row for pg_dump, and the branches' own login roles
  made through the functions of core/branch_roles.py) and the admin's cancel, terminate and
  reset statistics (pg_signal_backend, EXECUTE on pg_stat_statements_reset); it may not write
  the application's tables either.

Applying migrations from the console (off by default) runs as the owner
(MIGRATIONS_APPLY_DATABASE_URL). `schemadesk_audit` cannot log in: it owns schema `django` and
the audit trail, so the console can add events but never change, delete or unprotect them (see
core/audit_owner.py). No role the console logs in as has CREATEROLE, which on PostgreSQL 15 and
older may grant any role that is not a superuser, `schemadesk_audit` included: the branches'
roles are made by `schemadesk_role_admin`, a role nobody logs in as or belongs to, through
functions only the maintenance role may call (core/branch_roles.py). Every statement comes from
a builder below, shared by the demo, the tests, compose (`python -m core.embedded`) and
`manage.py connect`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from core.branch_roles import ROLE_ADMIN, branch_role_functions_sql
from core.pgcluster import Cluster

CONSOLE_ROLE = "schemadesk"
OWNER_ROLE = "todo_owner"
APP_ROLE = "todo_app"
READER_ROLE = "schemadesk_reader"
READONLY_ROLE = "schemadesk_readonly"
MAINTENANCE_ROLE = "schemadesk_maintenance"
# Functions PostgreSQL lets every role run whose effect a read-only role should not have.
PUBLIC_SIDE_EFFECT_FUNCTIONS = ("lo_creat", "lo_create", "lo_from_bytea", "pg_logical_emit_message")
AUDIT_OWNER_ROLE = "schemadesk_audit"
DJANGO_SCHEMA = "django"
# The variable each login role's URL is given in (the demo's .env, the tests, compose).
ROLE_VARIABLES = {
    CONSOLE_ROLE: "DATABASE_URL",
    READER_ROLE: "TARGET_DATABASE_URL",
    READONLY_ROLE: "TARGET_READONLY_DATABASE_URL",
    MAINTENANCE_ROLE: "TARGET_MAINTENANCE_DATABASE_URL",
    OWNER_ROLE: "APP_DIRECT_URL",
    APP_ROLE: "APP_DATABASE_URL",
}
# Applying migrations from the console runs as the owner, like the application's own migrations.
APPLY_VARIABLE = "MIGRATIONS_APPLY_DATABASE_URL"


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
        values = {variable: self.url(role) for role, variable in ROLE_VARIABLES.items()}
        values[APPLY_VARIABLE] = self.url(OWNER_ROLE)
        # Row changes write as the application's runtime role: row-level security holds it.
        values["TARGET_WRITE_DATABASE_URL"] = self.url(APP_ROLE)
        return values


def login_role_sql(
    cur: psycopg.Cursor, role: str, password: str | None, extra: str = ""
) -> sql.Composed:
    """Return CREATE ROLE (or ALTER ROLE when it exists) giving `role` a login and password.

    With no password, the role's password is left as it is (none for a new role).
    """
    statement = sql.SQL("{} ROLE {} LOGIN").format(_role_verb(cur, role), sql.Identifier(role))
    if password is not None:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    return sql.SQL("{} {}").format(statement, sql.SQL(extra)) if extra else statement


def _role_verb(cur: psycopg.Cursor, role: str) -> sql.SQL:
    """Return ALTER when `role` exists, else CREATE (the builders are idempotent)."""
    return sql.SQL("ALTER" if _role_exists(cur, role) else "CREATE")


def _role_exists(cur: psycopg.Cursor, role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


def role_admin_sql(cur: psycopg.Cursor, role: str = ROLE_ADMIN) -> sql.Composed:
    """Return CREATE (or ALTER) ROLE of the owner of the branch roles' functions.

    It cannot log in and has CREATEROLE and nothing else: the functions of core/branch_roles.py
    run as it. Nobody is made a member of it, and it of nothing: on PostgreSQL 15 and older a
    role that could become it could grant itself any role that is not a superuser.
    """
    return sql.SQL(
        "{} ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS"
    ).format(_role_verb(cur, role), sql.Identifier(role))


def _ensure_role(cur: psycopg.Cursor, role: str, password: str | None, extra: str = "") -> None:
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


def database_access_sql(dbname: str, roles: list[str]) -> list[sql.Composed]:
    """Return the statements letting only `roles` (and superusers) connect to `dbname`.

    PostgreSQL grants CONNECT to PUBLIC on every new database: without this, any login role of
    the server, a branch's own role included (and on Neon, the copy every branch holds of the
    database), could open it.
    """
    db = sql.Identifier(dbname)
    return [
        sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(db),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            db, sql.SQL(", ").join(sql.Identifier(role) for role in dict.fromkeys(roles))
        ),
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
    statements = []
    if not _role_exists(cur, owner_role):
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
            ).fetchone()[0]  # type: ignore[index]  # a function call answers one row
        ]
    return [reset_grant_sql(signature, role) for signature in signatures]


def read_all_stats_sql(role: str) -> sql.Composed:
    """Return the grant letting `role` see every role's statements and sessions."""
    return sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(role))


def clone_rights_sql(role: str) -> sql.Composed:
    """Return the statement letting `role` create databases (a local branch is a cloned
    database), and taking CREATEROLE from it (the branch's role is made by functions)."""
    return sql.SQL("ALTER ROLE {} CREATEDB NOCREATEROLE").format(sql.Identifier(role))


def signal_backends_sql(role: str) -> sql.Composed:
    """Return the grant letting `role` cancel and terminate other roles' backends it can see."""
    return sql.SQL("GRANT pg_signal_backend, pg_read_all_stats TO {}").format(sql.Identifier(role))


def schema_reader_sql(
    role: str, dbname: str, *, owner: str, schema: str, sequences: bool = False
) -> list[sql.Composed]:
    """Return the GRANTs letting `role` connect and SELECT `schema`'s tables (and, with
    `sequences`, read its sequences), those `owner` creates later by migrations too."""
    names = {
        "role": sql.Identifier(role),
        "owner": sql.Identifier(owner),
        "db": sql.Identifier(dbname),
        "schema": sql.Identifier(schema),
    }
    kinds = ["TABLES", "SEQUENCES"] if sequences else ["TABLES"]
    grants = [
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        *(f"GRANT SELECT ON ALL {kind} IN SCHEMA {{schema}} TO {{role}}" for kind in kinds),
        *(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{owner}} IN SCHEMA {{schema}} "
            f"GRANT SELECT ON {kind} TO {{role}}"
            for kind in kinds
        ),
    ]
    return [sql.SQL(statement).format(**names) for statement in grants]


def read_only_default_sql(role: str) -> sql.Composed:
    """Return the role default making every transaction of `role` read-only unless it asks."""
    return sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
        sql.Identifier(role)
    )


def target_reader_sql(
    cur: psycopg.Cursor,
    password: str | None,
    dbname: str,
    *,
    role: str = READER_ROLE,
    owner: str = OWNER_ROLE,
    schema: str = "public",
) -> list[sql.Composed]:
    """Return the statements making the console's target reader (TARGET_DATABASE_URL).

    It reads the application's tables (those the owner creates later too) and every role's
    statistics (pg_read_all_stats), and nothing more: no write, no signal, no reset, no object
    of its own, no way into the console's schema. BYPASSRLS: support must see every end-user's
    rows, which row-level security would hide from a role that owns no table (with FORCE ROW
    LEVEL SECURITY, even from the owner). Its transactions are read-only by default too: it is
    EXPLAIN ANALYZE's kind of role, with the statistics.
    """
    reads = readonly_role_sql(
        cur, password, dbname, role=role, owner=owner, schema=schema, set_role_from=None
    )
    return [*reads, read_all_stats_sql(role)]


def readonly_role_sql(
    cur: psycopg.Cursor,
    password: str | None,
    dbname: str,
    *,
    role: str = READONLY_ROLE,
    owner: str = OWNER_ROLE,
    schema: str = "public",
    set_role_from: str | None = READER_ROLE,
) -> list[sql.Composed]:
    """Return the statements making the read-only role EXPLAIN ANALYZE runs as (idempotent).

    It may log in, SELECT the application's tables (those the owner creates later too) and
    nothing else: no pg_signal_backend, no pg_read_all_stats, no write, no object of its own.
    BYPASSRLS lets its plans count the rows the application's users see, not the none a
    policy keyed on `app.current_user_id` leaves it. `set_role_from`, the console's reader,
    may SET ROLE to it (TARGET_READONLY_ROLE, the fallback when the console has no login for
    it); None for no such way in.
    """
    login = login_role_sql(cur, role, password, "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS")
    statements = [
        login,
        read_only_default_sql(role),
        *schema_reader_sql(role, dbname, owner=owner, schema=schema),
    ]
    if set_role_from:
        statements.append(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(set_role_from))
        )
    return statements


def maintenance_role_sql(
    cur: psycopg.Cursor,
    password: str | None,
    dbname: str,
    *,
    role: str = MAINTENANCE_ROLE,
    owner: str = OWNER_ROLE,
    schema: str = "public",
    local_branches: bool = True,
    admin_role: str = ROLE_ADMIN,
) -> list[sql.Composed]:
    """Return the statements making the console's maintenance role
    (TARGET_MAINTENANCE_DATABASE_URL): what is more than reading, and only that.

    The admin's actions: cancel and terminate backends (pg_signal_backend; pg_read_all_stats to
    find the backend it was shown) and reset statement statistics (EXECUTE on
    pg_stat_statements_reset, granted only once the extension exists). With local_branches,
    cloning the target: CREATEDB, reading every table and sequence for pg_dump, past row-level
    security (BYPASSRLS), and EXECUTE on the functions that make, re-key and drop each branch's
    own login role (core/branch_roles.py, owned by `admin_role`). Never CREATEROLE: on
    PostgreSQL 15 and older it could grant itself the audit trail's owner. It may not write the
    application's tables. Run as a superuser where pg_stat_statements is created.
    """
    attributes = (
        "NOSUPERUSER CREATEDB NOCREATEROLE BYPASSRLS"
        if local_branches
        else "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
    )
    reads = (
        schema_reader_sql(role, dbname, owner=owner, schema=schema, sequences=True)
        if local_branches
        else [
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(role)
            )
        ]
    )
    branch_roles = (
        [role_admin_sql(cur, admin_role), *branch_role_functions_sql(role, admin_role=admin_role)]
        if local_branches
        else []
    )
    return [
        login_role_sql(cur, role, password, attributes),
        *reads,
        signal_backends_sql(role),
        *statements_reset_grant_sql(cur, role),
        *branch_roles,
    ]


def database_url(url: str, dbname: str) -> str:
    """Return `url` naming database `dbname` instead (same server, role and options)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname), parts.query, ""))


def prepare(cluster: Cluster, dbname: str, passwords: dict[str, str] | None = None) -> Layout:
    """Create roles, database and schemas on a private cluster (idempotent); return the layout."""
    passwords = dict(passwords or {})
    for role in ROLE_VARIABLES:
        passwords.setdefault(role, secrets.token_urlsafe(18))
    prepare_database(cluster.superuser_url(), dbname, dict(passwords))
    return Layout(dbname=dbname, port=cluster.port or 0, passwords=passwords)


def prepare_database(
    admin_url: str, dbname: str, passwords: dict[str, str | None] | None = None
) -> None:
    """Create the layout's roles, database, schemas and grants on a server (idempotent).

    `admin_url` is a superuser's URL (any database of the server). A role without a password
    here keeps the one it has (a new one gets none, so it cannot log in with one).
    """
    passwords = dict(passwords or {})
    with psycopg.connect(admin_url, autocommit=True) as conn:
        cur = conn.cursor()
        # The owner reads statistics, signals backends and may create databases like Neon's
        # neondb_owner does; the console uses none of that (its roles above do). Not roles: the
        # console applies migrations as the owner (MIGRATIONS_APPLY_DATABASE_URL), and on
        # PostgreSQL 15 and older CREATEROLE could grant it the audit trail's owner.
        _ensure_role(cur, OWNER_ROLE, passwords.get(OWNER_ROLE), "CREATEDB NOCREATEROLE")
        _ensure_role(cur, APP_ROLE, passwords.get(APP_ROLE), "NOBYPASSRLS")
        _ensure_role(cur, CONSOLE_ROLE, passwords.get(CONSOLE_ROLE), "CREATEDB")
        cur.execute(
            sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(
                sql.Identifier(OWNER_ROLE)
            )
        )
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        verb = "ALTER DATABASE {} OWNER TO {}" if cur.fetchone() else "CREATE DATABASE {} OWNER {}"
        cur.execute(sql.SQL(verb).format(sql.Identifier(dbname), sql.Identifier(OWNER_ROLE)))
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
    with psycopg.connect(database_url(admin_url, dbname), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
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
        statements = [
            *target_reader_sql(cur, passwords.get(READER_ROLE), dbname),
            *readonly_role_sql(cur, passwords.get(READONLY_ROLE), dbname),
            *maintenance_role_sql(cur, passwords.get(MAINTENANCE_ROLE), dbname),
            # Large objects and WAL messages are the application's alone.
            *public_side_effects_sql(cur, [OWNER_ROLE, APP_ROLE]),
            *audit_owner_sql(cur),
        ]
        for statement in statements:
            cur.execute(statement)


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


def known_passwords(values: dict[str, str]) -> dict[str, str]:
    """Return the passwords of the layout's roles found in their URLs (.env or environment)."""
    passwords = {}
    for role, variable in ROLE_VARIABLES.items():
        url = values.get(variable, "")
        parts = urlsplit(url) if url else None
        if parts and unquote(parts.username or "") == role and parts.password:
            passwords[role] = unquote(parts.password)
    return passwords


def main(argv: list[str] | None = None) -> int:
    """Prepare the database of TARGET_DATABASE_URL as an administrator (compose's first step).

    The roles' passwords are those of their URLs in the environment (ROLE_VARIABLES); a role
    whose URL is not there keeps its password (a new one gets none).
    """
    parser = argparse.ArgumentParser(
        prog="python -m core.embedded",
        description="Create the console's and the application's roles, schemas and grants.",
    )
    parser.add_argument(
        "--admin-url-env",
        default="ADMIN_DATABASE_URL",
        help="environment variable holding a superuser's URL (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    admin_url = os.environ.get(args.admin_url_env, "")
    target = os.environ.get(ROLE_VARIABLES[READER_ROLE], "")
    if not admin_url or not target:
        print(f"error: set {args.admin_url_env} and TARGET_DATABASE_URL", file=sys.stderr)
        return 2
    dbname = unquote(urlsplit(target).path.lstrip("/"))
    passwords = known_passwords(dict(os.environ))
    try:
        prepare_database(admin_url, dbname, dict(passwords))
    except psycopg.Error as exc:
        print(f"error: {type(exc).__name__}: {str(exc).strip()}", file=sys.stderr)
        return 1
    print(f"Roles, schemas and grants of database {dbname} are ready.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
