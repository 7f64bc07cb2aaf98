"""`connect`'s database work: the console's role, database and schema, and its target roles.

This module writes to the operator's database server (roles, a database, grants), so it uses
its own short-lived autocommit connections, never the console's read-only gateway. Each step
looks first and does only what is missing. A statement the privileged role may not run is not
an error: it is kept, exactly as it would have run, for the operator to run as a superuser.
The statements come from core.embedded, the same ones `make demo` and the tests use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from core.branch_roles import GRANTED_FUNCTIONS, ROLE_SCHEMA, branch_role_functions_sql
from core.embedded import (
    AUDIT_OWNER_ROLE,
    DJANGO_SCHEMA,
    audit_owner_sql,
    clone_rights_sql,
    console_schema_sql,
    database_access_sql,
    login_role_sql,
    maintenance_role_sql,
    readonly_role_sql,
    reset_grant_sql,
    role_admin_sql,
    target_reader_sql,
)
from dashboard.console_work import APPLICATION_NAME

CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class Server:
    """A libpq URL split into what the steps need (holds a password: never print it)."""

    url: str

    @property
    def parts(self):
        return urlsplit(self.url.replace("postgresql+psycopg://", "postgresql://", 1))

    @property
    def user(self) -> str:
        return unquote(self.parts.username or "")

    @property
    def dbname(self) -> str:
        return unquote(self.parts.path.lstrip("/"))

    @property
    def location(self) -> str:
        """Return host:port/dbname, safe to show."""
        return f"{self.parts.hostname}:{self.parts.port or 5432}/{self.dbname}"

    def with_database(self, dbname: str) -> str:
        parts = self.parts
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname), parts.query, ""))

    def with_login(self, user: str, password: str, dbname: str) -> str:
        """Return the same host, port and options for another role and database."""
        parts = self.parts
        host = parts.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(("postgresql", netloc, "/" + quote(dbname), parts.query, ""))

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        url = self.with_database(dbname) if dbname else self.url
        return psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://", 1),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=APPLICATION_NAME,
        )


def psql_connect(database: str) -> str:
    """Return psql's `\\connect` to `database`, keeping the server, port and role.

    A plain name is written as it is; any other (a space, a quote, a `=`) goes in a connection
    string, quoted as libpq reads it, then in double quotes (psql's, doubled inside: they keep
    single quotes and backslashes as they are).
    """
    if re.fullmatch(r"[A-Za-z0-9_]+", database):
        return f"\\connect {database}"
    conninfo = "dbname='" + database.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return '\\connect -reuse-previous=on "' + conninfo.replace('"', '""') + '"'


@dataclass
class Outcome:
    """What the steps did, and the statements left for a superuser, per database."""

    done: list[str] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (database, statement)
    blocking: bool = False  # the console cannot start until the pending statements ran

    def script(self) -> str:
        """Return the pending statements as a psql script (\\connect before each database)."""
        lines: list[str] = []
        current = None
        for database, statement in self.pending:
            if database != current:
                lines.append(psql_connect(database))
                current = database
            lines.append(statement + ";")
        return "\n".join(lines)


def _run(
    conn: psycopg.Connection,
    database: str,
    statements: Sequence[sql.SQL | sql.Composed],
    outcome: Outcome,
    *,
    blocking: bool,
) -> bool:
    """Run the statements in order; keep the rest for a superuser at the first refusal."""
    for number, statement in enumerate(statements):
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            outcome.pending.extend((database, left.as_string(conn)) for left in statements[number:])
            outcome.blocking = outcome.blocking or blocking
            return False
    return True


def _scalar(
    conn: psycopg.Connection, query: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> object:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class ConsolePlan:
    """Where the console's own tables go, and as which roles."""

    role: str
    password: str
    database: str  # its own database, or the target's (with in_target)
    in_target: bool
    readonly_password: str
    reader_password: str = ""
    maintenance_password: str = ""
    schema: str = "public"  # the application's

    @property
    def readonly_role(self) -> str:
        """Return the role EXPLAIN ANALYZE runs as (schemadesk_readonly by default)."""
        return f"{self.role}_readonly"

    @property
    def reader_role(self) -> str:
        """Return the role the console reads the target as (schemadesk_reader by default)."""
        return f"{self.role}_reader"

    @property
    def maintenance_role(self) -> str:
        """Return the role of branches and the admin's actions (schemadesk_maintenance)."""
        return f"{self.role}_maintenance"


def logs_in(target: Server, role: str, password: str, database: str) -> bool:
    """Return True when `role` already logs in to `database` with `password`."""
    try:
        with psycopg.connect(
            target.with_login(role, password, database),
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=APPLICATION_NAME,
        ):
            return True
    except psycopg.OperationalError:
        return False


CONSOLE_SCHEMA_READY_SQL = """
    SELECT
        n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = %(owner)s)
        AND has_schema_privilege(%(role)s, n.oid, 'USAGE, CREATE')
        AND EXISTS (
            SELECT 1
            FROM pg_db_role_setting AS s
            WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
              AND s.setdatabase = 0
              AND format('search_path=%%s', quote_ident(n.nspname)) = ANY(s.setconfig)
        )
    FROM pg_namespace AS n
    WHERE n.nspname = %(schema)s
"""


def prepare_console(admin: Server, target: Server, plan: ConsolePlan, outcome: Outcome) -> None:
    """Make the console's login role, its database (or use the target's) and its schema.

    A database made here admits only the console's role and the privileged role (CONNECT is
    revoked from PUBLIC), so no branch's role opens it, nor its copy on a Neon branch; an
    existing one is left as it is (`manage.py doctor` says when it still admits PUBLIC). The
    schema belongs to the audit trail's owner, a role nobody logs in as; the console may
    use it and create its tables there (core.embedded's statements, as for the demo).
    """
    with admin.connect() as conn:
        cur = conn.cursor()
        if logs_in(target, plan.role, plan.password, plan.database):
            outcome.done.append(f"role {plan.role} logs in (password from the .env file)")
        elif _run(
            conn,
            admin.dbname,
            [login_role_sql(cur, plan.role, plan.password)],
            outcome,
            blocking=True,
        ):
            outcome.done.append(f"role {plan.role} can log in with a new password")
        if not _scalar(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (plan.database,)):
            # Only the console's role, and the role setting it up, may connect: not PUBLIC,
            # so no branch's role can open it (nor, on Neon, the copy each branch holds).
            admitted = [plan.role, admin.user]
            create = [
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(plan.database)),
                *database_access_sql(plan.database, admitted),
            ]
            if outcome.blocking:  # no role to admit yet: whoever makes it makes the database
                outcome.pending.extend((admin.dbname, st.as_string(conn)) for st in create)
            elif _run(conn, admin.dbname, create, outcome, blocking=True):
                outcome.done.append(
                    f"database {plan.database} created for the console; only "
                    f"{' and '.join(dict.fromkeys(admitted))} may connect to it"
                )
        if outcome.blocking:
            # Whoever runs the statements above may make the schema in the same script.
            schema = [*console_schema_sql(plan.role), *audit_owner_sql(cur, plan.role)]
            outcome.pending.extend((plan.database, st.as_string(conn)) for st in schema)
            return
    with admin.connect(plan.database) as conn:
        cur = conn.cursor()
        names = {"owner": AUDIT_OWNER_ROLE, "role": plan.role, "schema": DJANGO_SCHEMA}
        where = "the target's database" if plan.in_target else "its own database"
        if _scalar(conn, CONSOLE_SCHEMA_READY_SQL, names):
            outcome.done.append(f"schema {DJANGO_SCHEMA} in {plan.database} ({where}) ready")
            return
        statements = [*console_schema_sql(plan.role), *audit_owner_sql(cur, plan.role)]
        if _run(conn, plan.database, statements, outcome, blocking=True):
            outcome.done.append(
                f"schema {DJANGO_SCHEMA} in {plan.database} ({where}), owned by "
                f"{AUDIT_OWNER_ROLE}, {plan.role}'s search_path"
            )


def schema_exists(admin: Server, target: Server, schema: str) -> bool:
    """Return True when the target's database has `schema` (the roles' grants name it)."""
    with admin.connect(target.dbname) as conn:
        return bool(_scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)))


STATEMENTS_AVAILABLE_SQL = """
    SELECT
        EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'),
        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
"""


def _target_role(
    conn: psycopg.Connection,
    target: Server,
    role: str,
    password: str,
    statements: list[sql.Composed],
    outcome: Outcome,
    done: str,
) -> bool:
    """Make one of the console's target roles, unless it logs in already with the password
    of .env (an earlier run, or a superuser running its script, made it): then return True."""
    if logs_in(target, role, password, target.dbname):
        outcome.done.append(f"role {role} logs in (password from the .env file)")
        return True
    if _run(conn, target.dbname, statements, outcome, blocking=False):
        outcome.done.append(done)
    return False


# Whether `role` makes branches' roles the way it should: no CREATEROLE of its own, and EXECUTE
# on each of the branch roles' functions (core/branch_roles.py) in this database.
BRANCH_ROLES_READY_SQL = """
    SELECT
        NOT r.rolcreaterole
        AND (
            SELECT count(*)
            FROM pg_catalog.pg_proc AS p
            JOIN pg_catalog.pg_namespace AS n
                ON n.oid = p.pronamespace
            WHERE n.nspname = %(schema)s
              AND p.proname = ANY(%(names)s)
              AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
        ) = cardinality(%(names)s)
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = %(role)s
"""


def _branch_roles_by_functions(
    conn: psycopg.Connection, cur: psycopg.Cursor, target: Server, role: str, outcome: Outcome
) -> None:
    """Bring a maintenance role made before the branch roles' functions up to date: take its
    CREATEROLE (on PostgreSQL 15 it could grant itself the audit owner) and make the functions
    it calls instead. Nothing when it is so already."""
    names = [signature.split("(")[0] for signature in GRANTED_FUNCTIONS]
    if _scalar(conn, BRANCH_ROLES_READY_SQL, {"schema": ROLE_SCHEMA, "names": names, "role": role}):
        return
    statements = [clone_rights_sql(role), role_admin_sql(cur), *branch_role_functions_sql(role)]
    if _run(conn, target.dbname, statements, outcome, blocking=False):
        outcome.done.append(
            f"role {role} makes branches' roles through the functions of {ROLE_SCHEMA}, "
            "without CREATEROLE"
        )


def prepare_target(
    admin: Server, target: Server, plan: ConsolePlan, outcome: Outcome, *, local_branches: bool
) -> None:
    """Create pg_stat_statements in the target and the console's roles there: the reader its
    pages read as, the read-only role EXPLAIN ANALYZE runs as, and the maintenance role of
    branches and the admin's actions (core.embedded's builders, as for the demo).

    The target's role (the URL given, the owner of the application's tables) is only the
    owner their default privileges follow: the console never uses it. Nothing here stops the
    console from starting: what cannot be done is listed for a superuser, and the checklist
    says what is missing meanwhile.
    """
    owner = target.user
    maintenance = plan.maintenance_role
    with admin.connect(target.dbname) as conn:
        cur = conn.cursor()
        names = {"owner": owner, "schema": plan.schema}
        _target_role(
            conn,
            target,
            plan.reader_role,
            plan.reader_password,
            target_reader_sql(
                cur, plan.reader_password, target.dbname, role=plan.reader_role, **names
            ),
            outcome,
            f"role {plan.reader_role} reads {plan.schema} and the statistics, and writes nothing",
        )
        # A login of its own (TARGET_READONLY_DATABASE_URL): no SET ROLE way back.
        _target_role(
            conn,
            target,
            plan.readonly_role,
            plan.readonly_password,
            readonly_role_sql(
                cur,
                plan.readonly_password,
                target.dbname,
                role=plan.readonly_role,
                set_role_from=None,
                **names,
            ),
            outcome,
            f"role {plan.readonly_role} may only read {plan.schema}'s tables",
        )
        what = (
            "branches, cancel, terminate, reset" if local_branches else "cancel, terminate, reset"
        )
        existed = _target_role(
            conn,
            target,
            maintenance,
            plan.maintenance_password,
            maintenance_role_sql(
                cur,
                plan.maintenance_password,
                target.dbname,
                role=maintenance,
                local_branches=local_branches,
                **names,
            ),
            outcome,
            f"role {maintenance} for {what}",
        )
        if existed and local_branches:
            _branch_roles_by_functions(conn, cur, target, maintenance, outcome)
        available, created = conn.execute(STATEMENTS_AVAILABLE_SQL).fetchone()  # type: ignore[misc]  # one row: two aggregates
        # After the roles: the maintenance role (made above, or in the same printed script) is
        # granted the reset function by its name alone, the one overload there is
        # (pg_stat_statements 1.9 and newer); where the extension exists, its builder did.
        create: list[sql.SQL | sql.Composed] = [
            sql.SQL("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"),
            reset_grant_sql("pg_stat_statements_reset", maintenance),
        ]
        if available and not created and _run(conn, target.dbname, create, outcome, blocking=False):
            outcome.done.append(f"pg_stat_statements created in {target.dbname}")
