"""The setup checks of the console itself: its own database (DATABASE_URL), where its tables
live, who may open it, whether Neon branches hold copies of it, and its audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from core.embedded import DJANGO_SCHEMA, database_access_sql, search_path_sql
from dashboard.audit.ownership import audit_protection
from dashboard.branches.neon_client import Endpoint
from dashboard.branches.neon_console_copy import DatabaseAddress, console_placement
from dashboard.onboarding.checklist import BAD, OK, WARN, Check


def console_schema() -> Check:
    title = "the console's tables live in schema django"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        role, schema = cursor.fetchone()
    if schema == DJANGO_SCHEMA:
        return Check(title, OK, f"role {role}, search_path → {schema}")
    return Check(
        title,
        BAD,
        f"role {role}'s tables resolve to {schema!r}",
        f"as an administrator: {search_path_sql(role).as_string(None)};",
    )


def audit_trail_protected() -> Check:
    """Return whether the console's role could change or erase the audit trail."""
    title = "the console cannot erase the audit trail"
    protection = audit_protection(connection)
    if protection.holds:
        return Check(title, OK, f"{protection.owner} owns it; {protection.role} may add and read")
    return Check(
        title,
        BAD,
        " ".join(protection.problems),
        "see the README's security section (python manage.py audit_verify says more)",
    )


CONSOLE_DATABASE_ACCESS_SQL = """
    SELECT
        current_database() AS database,
        current_user AS role,
        has_database_privilege('public', current_database(), 'CONNECT') AS public_connects
"""

# How long the setup checks wait for Neon's answer (the Overview shows them in a page).
NEON_CHECK_TIMEOUT_SECONDS = 5.0
CONSOLE_SECRETS = "the operators' password hashes, their sessions and the audit trail"


@dataclass(frozen=True)
class ConsoleDatabaseFacts:
    """The console's own database (DATABASE_URL), as its role sees it."""

    database: str
    role: str
    public_connects: bool  # CONNECT is granted to PUBLIC: any login role may open it


def console_database_facts() -> ConsoleDatabaseFacts:
    with connection.cursor() as cursor:
        cursor.execute(CONSOLE_DATABASE_ACCESS_SQL)
        database, role, public_connects = cursor.fetchone()
    return ConsoleDatabaseFacts(database, role, bool(public_connects))


def _closing_statements(facts: ConsoleDatabaseFacts) -> str:
    """Return the REVOKE and GRANT admitting only the console's role to its database."""
    statements = database_access_sql(facts.database, [facts.role])
    return " ".join(statement.as_string(None) + ";" for statement in statements)


def console_database_closed(facts: ConsoleDatabaseFacts) -> Check:
    """Return whether roles other than the console's may connect to its database."""
    title = "only the console's roles open its database"
    if not facts.public_connects:
        return Check(
            title, OK, f"CONNECT on {facts.database} is revoked from PUBLIC: a branch's role is out"
        )
    shared = DatabaseAddress.console() == DatabaseAddress.target()
    also = (
        " Grant CONNECT to the application's roles too: it is the application's database."
        if shared
        else ""
    )
    return Check(
        title,
        WARN,
        f"CONNECT on {facts.database} is granted to PUBLIC: any login role of its server may "
        "open it, a branch's revealed role included; on Neon that role, a neon_superuser, "
        f"reads {CONSOLE_SECRETS} there and in the copy every branch holds",
        f"as the database's owner: {_closing_statements(facts)}{also}",
    )


def _neon_project_endpoints() -> tuple[Endpoint, ...]:
    """Return the computes of NEON_PROJECT_ID (BranchError or NeonError when Neon cannot say)."""
    from dashboard.branches.neon_provider import NeonProvider

    provider = NeonProvider.from_settings(
        max_retries=0, read_timeout=NEON_CHECK_TIMEOUT_SECONDS, locked_wait_seconds=0
    )
    try:
        return provider.client.project_endpoints()
    finally:
        provider.close()


def console_database_not_copied(
    facts: ConsoleDatabaseFacts,
    *,
    console: DatabaseAddress | None = None,
    target: DatabaseAddress | None = None,
) -> Check:
    """Return whether Neon branches hold copies of the console's database.

    console and target default to DATABASE_URL's and TARGET_DATABASE_URL's addresses.
    """
    title = "branches hold no copy of the console's database"
    if str(getattr(settings, "BRANCH_PROVIDER", "local")) != "neon":
        return Check(
            title, OK, "local branches copy the target's database alone, without schema django"
        )
    project = str(getattr(settings, "NEON_PROJECT_ID", "") or "")
    placement = console_placement(
        console or DatabaseAddress.console(),
        target or DatabaseAddress.target(),
        project,
        _neon_project_endpoints,
    )
    if placement.in_project is False:
        return Check(title, OK, f"{facts.database} is {placement.how}")
    move = (
        f"host the console's database outside Neon project {project} (another project or "
        "another server) and set DATABASE_URL to it"
    )
    if placement.in_project is None:
        return Check(
            title,
            WARN,
            f"{facts.database} may be in the target's Neon project: {placement.how}",
            f"check NEON_API_KEY and NEON_PROJECT_ID; {move}",
        )
    found = (
        f"{facts.database} is {placement.how}: every branch made from its branch holds a copy "
        f"of it ({CONSOLE_SECRETS})"
    )
    if facts.public_connects:
        return Check(
            title,
            WARN,
            f"{found}, which a branch's revealed role can open (CONNECT is granted to PUBLIC)",
            f"{move}; if it must stay, as its owner: {_closing_statements(facts)} (branches "
            "made before keep the old grant: delete or reset them)",
        )
    return Check(
        title,
        WARN,
        f"{found}; CONNECT is revoked from PUBLIC, so a branch's role cannot open the copy "
        "unless it can make itself a member of a role that may (CREATEROLE lets a "
        "neon_superuser do that on PostgreSQL 15 and older)",
        move,
    )
