"""Who among the console's logins may create roles, and whether the branch roles' functions hold.

On PostgreSQL 15 and older a role with CREATEROLE may grant itself any role that is not a
superuser, the audit trail's owner included: no role the console logs in as may have it, nor
act as a role that has it. Local branches' login roles are made instead by the functions of
core/branch_roles.py, which hold only while their owner cannot log in, belongs to no role and
has no member, and only the maintenance role may call them. The checklist (checks.py) reads
these facts; the SQL runs on a cursor of the target's reader, or of Django's own connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from sqlalchemy import make_url

from core.branch_roles import BRANCH_ROLE_COMMENT, GRANTED_FUNCTIONS, ROLE_SCHEMA
from dashboard.target import maintenance_url, migrations_apply_url, read_only_setup, target_url

# Of the given roles, each role that may create roles that it is or may act as (itself first).
ROLE_CREATORS_SQL = """
SELECT
    r.rolname AS role,
    c.rolname AS creator,
    c.rolsuper AS superuser
FROM pg_catalog.pg_roles AS r
JOIN pg_catalog.pg_roles AS c
    ON (c.rolcreaterole OR c.rolsuper)
   AND pg_catalog.pg_has_role(r.oid, c.oid, 'MEMBER')
WHERE r.rolname = ANY(%(roles)s)
ORDER BY r.rolname, c.oid <> r.oid, c.rolname
"""

# The branch roles' functions, their owner, and who besides it and `role` may execute them.
BRANCH_ROLE_FUNCTIONS_SQL = """
SELECT
    p.proname AS name,
    o.rolname AS owner,
    o.rolcanlogin AS owner_logs_in,
    o.rolcreaterole AS owner_creates_roles,
    EXISTS (
        SELECT 1
        FROM pg_catalog.pg_auth_members AS m
        WHERE m.roleid = o.oid
           OR (m.member = o.oid  -- 16+: the roles it made (the branches') count it as their admin
               AND pg_catalog.shobj_description(m.roleid, 'pg_authid')
                   IS DISTINCT FROM %(branch_role_comment)s)
    ) AS owner_in_a_membership,
    p.prosecdef AS definer,
    pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE') AS granted,
    ARRAY(
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
        FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
        WHERE a.privilege_type = 'EXECUTE'
          AND a.grantee NOT IN (p.proowner, r.oid)
        ORDER BY 1
    ) AS others
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n
    ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles AS o
    ON o.oid = p.proowner
JOIN pg_catalog.pg_roles AS r
    ON r.rolname = %(role)s
WHERE n.nspname = %(schema)s
  AND p.proname = ANY(%(names)s)
ORDER BY p.proname
"""


class Cursor(Protocol):
    """A DB-API cursor: psycopg's, or Django's wrapper around it."""

    def execute(self, query: str, params: Mapping[str, Any]) -> Any: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class Creator:
    """A role one of the console's logins is or may act as, that may create roles."""

    role: str
    superuser: bool


def _user(url: str) -> str:
    return make_url(url).username or ""


def target_logins() -> dict[str, str]:
    """Return the role of each URL the console logs in to the target with, by its variable."""
    from dashboard.config import checked_database_url

    logins = {"TARGET_DATABASE_URL": _user(target_url())}
    read_only = read_only_setup()
    if read_only is not None and read_only.login:
        logins["TARGET_READONLY_DATABASE_URL"] = read_only.role
    logins["TARGET_MAINTENANCE_DATABASE_URL"] = _user(maintenance_url())
    if settings.TARGET_WRITE.get("URL_VAR"):
        write_url = checked_database_url(str(settings.TARGET_WRITE["URL_VAR"]))
        logins["TARGET_WRITE_DATABASE_URL"] = _user(write_url)
    apply_url = migrations_apply_url()
    if apply_url:
        logins["MIGRATIONS_APPLY_DATABASE_URL"] = _user(apply_url)
    return {variable: role for variable, role in logins.items() if role}


def role_creators(cursor: Cursor, roles: Iterable[str]) -> dict[str, list[Creator]]:
    """Return, for each of `roles` that may create roles, the roles through which it may."""
    found: dict[str, list[Creator]] = {}
    cursor.execute(ROLE_CREATORS_SQL, {"roles": sorted(set(roles))})
    for role, creator, superuser in cursor.fetchall():
        found.setdefault(role, []).append(Creator(creator, superuser))
    return found


@dataclass(frozen=True)
class BranchRoleFunctions:
    """Whether the maintenance role may make branches' roles, and what would make it unsafe."""

    granted: bool = False  # it may call every one of them
    problems: list[str] = field(default_factory=list)


def branch_role_functions(cursor: Cursor, maintenance: str) -> BranchRoleFunctions:
    """Return the state of the branch roles' functions for role `maintenance` (which exists)."""
    wanted = [signature.split("(")[0] for signature in GRANTED_FUNCTIONS]
    cursor.execute(
        BRANCH_ROLE_FUNCTIONS_SQL,
        {
            "role": maintenance,
            "schema": ROLE_SCHEMA,
            "names": wanted,
            "branch_role_comment": BRANCH_ROLE_COMMENT,
        },
    )
    rows = cursor.fetchall()
    problems: list[str] = []
    for name, owner, logs_in, creates_roles, in_a_membership, definer, _, others in rows:
        if logs_in:
            problems.append(f"{owner}, which {name} runs as, can log in")
        if in_a_membership:
            problems.append(
                f"{owner}, which {name} runs as, is a member of a role or has a member: a "
                "login that may act as it may grant itself any role"
            )
        if not definer or not creates_roles:
            problems.append(f"{name} does not run as a role with CREATEROLE")
        if others:
            problems.append(f"{', '.join(others)} may execute {name} too")
    granted = len(rows) == len(wanted) and all(row[6] for row in rows)
    return BranchRoleFunctions(granted, sorted(set(problems), key=problems.index))
