"""The setup checks of the target database: its extensions, the grants of the console's roles
there, and whether branches can be made.

The target is read through the console's own gateway, as its reader: what is checked is what
the console will really be allowed to do; the maintenance role (branches, the admin's actions)
is looked up by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection
from sqlalchemy import Connection, make_url, text

from core.branch_roles import ROLE_ADMIN, ROLE_SCHEMA
from core.embedded import (
    STATEMENTS_RESET_FUNCTIONS_SQL,
    clone_rights_sql,
    read_all_stats_sql,
    reset_grant_sql,
    signal_backends_sql,
)
from dashboard.onboarding.checklist import BAD, OK, WARN, Check
from dashboard.onboarding.role_powers import (
    BranchRoleFunctions,
    Creator,
    branch_role_functions,
    role_creators,
    target_logins,
)
from dashboard.queries.extension import StatementsStatus, statements_status
from dashboard.suggested_sql import quote_identifier
from dashboard.target import (
    TargetError,
    driver_connection,
    maintenance_url,
    read_only_role_problems,
    read_only_setup,
    run_read,
)

TARGET_FACTS_SQL = text(
    """
    SELECT
        current_user AS role,
        current_database() AS database,
        r.rolsuper AS superuser,
        pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats,
        (SELECT e.extnamespace::regnamespace::text
         FROM pg_catalog.pg_extension AS e
         WHERE e.extname = 'hypopg') AS hypopg_schema,
        EXISTS (
            SELECT 1
            FROM pg_catalog.pg_available_extensions
            WHERE name = 'hypopg') AS hypopg_available
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = current_user
    """
)

# The maintenance role, by name: local branches, and the admin's cancel, terminate and reset.
MAINTENANCE_FACTS_SQL = text(
    """
    SELECT
        r.rolsuper AS superuser,
        r.rolcreatedb AS createdb,
        r.rolcreaterole AS createrole,
        pg_has_role(r.oid, 'pg_signal_backend', 'USAGE') AS signals,
        pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE') AS reads_all_stats
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = :role
    """
)

RESET_PRIVILEGES_SQL = text(
    f"""
    SELECT
        f.signature,
        has_function_privilege(:role, f.signature::regprocedure, 'EXECUTE') AS granted
    FROM ({STATEMENTS_RESET_FUNCTIONS_SQL}) AS f
    """
)


@dataclass(frozen=True)
class MaintenanceFacts:
    """What the maintenance role may do (exists is False: no such role on the server)."""

    role: str
    exists: bool = False
    superuser: bool = False
    createdb: bool = False
    createrole: bool = False
    signals: bool = False
    reads_all_stats: bool = False
    branch_roles: BranchRoleFunctions = field(default_factory=BranchRoleFunctions)


@dataclass(frozen=True)
class TargetFacts:
    """What the target says about itself and the console's role there."""

    role: str
    database: str
    statements: StatementsStatus
    superuser: bool
    reads_all_stats: bool
    hypopg_schema: str | None
    hypopg_available: bool
    reset_functions: dict[str, bool]  # the maintenance role's
    maintenance: MaintenanceFacts
    reader_problems: list[str]  # what the reader could do beyond reading
    logins: dict[str, str] = field(default_factory=dict)  # the console's roles there, by URL
    role_creators: dict[str, list[Creator]] = field(default_factory=dict)  # of those roles


def target_facts() -> TargetFacts:
    """Return the target's extension, privilege and role facts (one read-only transaction)."""
    maintenance = make_url(maintenance_url()).username or ""
    logins = target_logins()

    def work(conn: Connection) -> TargetFacts:
        row = conn.execute(TARGET_FACTS_SQL).mappings().one()
        statements = statements_status(conn)
        found = conn.execute(MAINTENANCE_FACTS_SQL, {"role": maintenance}).mappings().first()
        cursor = driver_connection(conn).cursor()
        reset = {}
        branch_roles = BranchRoleFunctions()
        if found:  # has_function_privilege refuses a role that does not exist
            privileges = conn.execute(RESET_PRIVILEGES_SQL, {"role": maintenance})
            reset = {r.signature: bool(r.granted) for r in privileges}
            branch_roles = branch_role_functions(cursor, maintenance)
        return TargetFacts(
            **dict(row),
            statements=statements,
            reset_functions=reset,
            maintenance=(
                MaintenanceFacts(maintenance, True, **dict(found), branch_roles=branch_roles)
                if found
                else MaintenanceFacts(maintenance)
            ),
            reader_problems=read_only_role_problems(conn),
            logins=logins,
            role_creators=role_creators(cursor, logins.values()),
        )

    return run_read(work)


def statements_loaded(facts: TargetFacts) -> Check:
    title = "pg_stat_statements is loaded"
    status = facts.statements
    if status.ready or status.problem == "outdated":
        return Check(title, OK, "the server loaded it at start-up (shared_preload_libraries)")
    if status.problem == "not_created":
        return Check(title, WARN, "can be told once the extension is created")
    return Check(title, BAD, status.sentence, " ".join(status.fix))


def statements_created(facts: TargetFacts) -> Check:
    title = "pg_stat_statements is created"
    status = facts.statements
    if status.schema and status.problem != "outdated":
        return Check(title, OK, f"version {status.version} in schema {status.schema}")
    if status.problem in ("not_created", "outdated"):
        return Check(title, BAD, status.sentence, " ".join(status.fix))
    return Check(title, BAD, f"not created in database {facts.database}", " ".join(status.fix))


def statements_reset_granted(facts: TargetFacts) -> Check:
    title = "pg_stat_statements_reset is granted"
    role = facts.maintenance.role
    if not facts.maintenance.exists:
        return Check(title, WARN, f"there is no role {role} (TARGET_MAINTENANCE_DATABASE_URL)")
    if not facts.reset_functions:
        return Check(title, WARN, "pg_stat_statements is not created yet")
    missing = [signature for signature, granted in facts.reset_functions.items() if not granted]
    if not missing:
        return Check(title, OK, f"{role} may reset the statistics (admins, Queries page)")
    grants = " ".join(
        reset_grant_sql(signature, role).as_string(None) + ";" for signature in missing
    )
    return Check(
        title,
        BAD,
        f"{role} may not reset the statistics: an admin's reset fails",
        f"as a superuser: {grants}",
    )


def reader_harmless(facts: TargetFacts) -> Check:
    """Return whether the pages read the target as a role that can only read."""
    title = "the console reads as a reader"
    if not facts.reader_problems:
        return Check(title, OK, f"{facts.role} (TARGET_DATABASE_URL) can only read")
    return Check(
        title,
        WARN,
        f"{facts.role} (TARGET_DATABASE_URL) {'; '.join(facts.reader_problems)}: every page "
        "reads as it, and its statements count as the application's in Queries",
        "give the console a reader of its own: run manage.py connect, or create it as the "
        "README's setup by hand shows, and set TARGET_DATABASE_URL to it",
    )


def backends_signalable(facts: TargetFacts) -> Check:
    """Return whether the admin's cancel and terminate can work."""
    title = "cancel and terminate (admins, Activity page)"
    maintenance = facts.maintenance
    if not maintenance.exists:
        return Check(
            title,
            BAD,
            f"there is no role {maintenance.role} (TARGET_MAINTENANCE_DATABASE_URL)",
            "run manage.py connect, or create it as the README's setup by hand shows",
        )
    if maintenance.superuser or (maintenance.signals and maintenance.reads_all_stats):
        return Check(title, OK, f"{maintenance.role} has pg_signal_backend and pg_read_all_stats")
    return Check(
        title,
        WARN,
        f"{maintenance.role} may signal only its own sessions",
        f"as a superuser: {signal_backends_sql(maintenance.role).as_string(None)};",
    )


def all_statistics_readable(facts: TargetFacts) -> Check:
    title = "every role's statements and sessions are visible"
    if facts.superuser or facts.reads_all_stats:
        return Check(title, OK, f"{facts.role} has pg_read_all_stats")
    return Check(
        title,
        WARN,
        f"{facts.role} sees only its own query texts and sessions",
        f"as a superuser: {read_all_stats_sql(facts.role).as_string(None)};",
    )


def hypopg_ready(facts: TargetFacts) -> Check:
    title = "hypopg (hypothetical indexes)"
    if facts.hypopg_schema:
        return Check(title, OK, f"in schema {facts.hypopg_schema}")
    if facts.hypopg_available:
        return Check(
            title,
            WARN,
            f"installed on the server, not created in database {facts.database}: index "
            "suggestions cannot show the plan with the index",
            f"as a superuser, in database {facts.database}: CREATE EXTENSION hypopg;",
        )
    return Check(
        title,
        WARN,
        "not installed on the server (optional)",
        "install it (Debian/Ubuntu: apt-get install postgresql-NN-hypopg), then "
        "CREATE EXTENSION hypopg;",
    )


def branches_possible(facts: TargetFacts) -> Check:
    title = "branches can be made"
    provider = str(getattr(settings, "BRANCH_PROVIDER", "local"))
    if provider == "neon":
        from dashboard.config import env

        missing = [
            name
            for name, value in (
                ("NEON_API_KEY", env.str("NEON_API_KEY", default="")),
                ("NEON_PROJECT_ID", str(getattr(settings, "NEON_PROJECT_ID", ""))),
            )
            if not value
        ]
        if missing:
            return Check(
                title,
                BAD,
                f"BRANCH_PROVIDER=neon without {' and '.join(missing)}",
                f"set {' and '.join(missing)} (Neon console → API keys, project settings)",
            )
        return Check(title, OK, "Neon branches through the API (BRANCH_PROVIDER=neon)")
    maintenance = facts.maintenance
    role = maintenance.role or "the maintenance role"
    neon = "or on Neon set BRANCH_PROVIDER=neon with NEON_API_KEY and NEON_PROJECT_ID"
    if not (maintenance.superuser or maintenance.createdb):
        grant = clone_rights_sql(maintenance.role).as_string(None) + ";"
        return Check(
            title,
            BAD,
            f"BRANCH_PROVIDER=local but {role} may not create databases: branches and "
            "migration trial runs fail",
            f"as a superuser: {grant} {neon}",
        )
    functions = maintenance.branch_roles
    setup = (
        f"as a superuser, in {facts.database}: the statements of the README's setup by hand "
        f"(or manage.py connect with a superuser's ADMIN_DATABASE_URL), {neon}"
    )
    if not functions.granted:
        return Check(
            title,
            BAD,
            f"BRANCH_PROVIDER=local but {role} may not call the functions of schema "
            f"{ROLE_SCHEMA} that make each branch's own role: branches and migration trial "
            "runs fail",
            setup,
        )
    if functions.problems:
        return Check(
            title,
            BAD,
            f"the functions that make branches' roles could be turned against the audit trail: "
            f"{'; '.join(functions.problems)}",
            f"{setup}; nobody may be a member of {ROLE_ADMIN}, nor it of any role",
        )
    return Check(
        title,
        OK,
        f"local clones on the target's server ({maintenance.role} has CREATEDB; the "
        f"branches' roles are made by the functions of {ROLE_SCHEMA}, as {ROLE_ADMIN})",
    )


def no_login_creates_roles(facts: TargetFacts) -> Check:
    """Return whether a role the console logs in as may create roles (and so, on PostgreSQL 15
    and older, grant itself the audit trail's owner)."""
    title = "no role the console logs in as may create roles"
    logins = {"DATABASE_URL": str(settings.DATABASES["default"].get("USER") or "")}
    logins.update(facts.logins)
    try:
        with connection.cursor() as cursor:  # the console's own database may be elsewhere
            creators = role_creators(cursor, [logins["DATABASE_URL"]])
    except DatabaseError:  # it does not answer: "the console's database answers" says so
        del logins["DATABASE_URL"]
        creators = {}
    creators = {**facts.role_creators, **creators}
    problems, fixes = [], []
    for variable, role in logins.items():
        for creator in creators.get(role, []) if role else []:
            if creator.role != role:
                problems.append(f"{role} ({variable}) may act as {creator.role}, which may")
                revoke = f"REVOKE {quote_identifier(creator.role)} FROM {quote_identifier(role)};"
                fixes.append(revoke)
            elif creator.superuser:
                problems.append(f"{role} ({variable}) is a superuser")
                fixes.append(f"give {variable} a role of its own (README)")
            else:
                problems.append(f"{role} ({variable}) has CREATEROLE")
                fixes.append(f"ALTER ROLE {quote_identifier(role)} NOCREATEROLE;")
    if not problems:
        roles = ", ".join(sorted(set(logins.values()) - {""}))
        return Check(title, OK, f"none of {roles} has CREATEROLE, nor may act as a role that has")
    return Check(
        title,
        BAD,
        f"{'; '.join(dict.fromkeys(problems))}: on PostgreSQL 15 and older such a role may grant "
        f"itself any role that is not a superuser, {settings.AUDIT_OWNER_ROLE} included, and "
        "erase the audit trail",
        f"as a superuser: {' '.join(dict.fromkeys(fixes))} Local branches' roles are made by "
        f"the functions of schema {ROLE_SCHEMA} instead (README, setup by hand)",
    )


def read_only_role() -> Check:
    """Return whether EXPLAIN ANALYZE has its read-only role, and that it can do no harm."""
    title = "the read-only role for EXPLAIN ANALYZE"
    setup = read_only_setup()
    if setup is None:
        return Check(
            title,
            WARN,
            "none configured: EXPLAIN ANALYZE is refused (plain EXPLAIN works)",
            "run manage.py connect with a privileged role, or create the role as the README's "
            "security section shows and set TARGET_READONLY_DATABASE_URL",
        )
    try:
        run_read(lambda conn: None, restricted=True)  # it logs in and passes the harm check
    except TargetError as exc:
        how = "TARGET_READONLY_DATABASE_URL" if setup.login else "TARGET_READONLY_ROLE"
        return Check(title, BAD, f"{setup.role}: {exc.sentence}", f"check {how}")
    return Check(title, OK, f"{setup.role} may only read the application's tables")
