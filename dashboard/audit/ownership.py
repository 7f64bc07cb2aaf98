"""Who owns the audit table: handing it to its owner role, and checking the console cannot erase it.

The console's role creates the table (Django's migrations run as that role), then hands it to the
audit owner (`AUDIT_OWNER_ROLE`, a role that cannot log in) and keeps INSERT and SELECT only.
Handing over needs the console to be a member of the owner for that one migration run; the
membership is lent and taken back by `python -m core.audit_owner` (or by hand, see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from dashboard.suggested_sql import quote_identifier

AUDIT_TABLE = "audit_auditevent"
TRIGGER_FUNCTION = "audit_event_append_only()"
SETUP_HINT = (
    "Run Django's migrations through `python -m core.audit_owner -- python manage.py migrate` "
    "with AUDIT_ADMIN_DATABASE_URL set to an administrator's URL, or as an administrator run "
    "GRANT {owner} TO {console}; before `manage.py migrate` and REVOKE {owner} FROM {console}; "
    "after it (README, “Running against your own database”)."
)


class AuditOwnerNotReady(RuntimeError):
    """The audit table cannot be handed to its owner yet; the message says what to run."""


def _require_membership(cursor: CursorWrapper, owner: str) -> str:
    """Return the console's role, or raise AuditOwnerNotReady when it may not act as `owner`."""
    cursor.execute("SELECT current_user")
    console = cursor.fetchone()[0]
    owner_sql, console_sql = quote_identifier(owner), quote_identifier(console)
    hint = SETUP_HINT.format(owner=owner_sql, console=console_sql)
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [owner])
    if cursor.fetchone() is None:
        raise AuditOwnerNotReady(
            f"The audit owner role “{owner}” does not exist. As an administrator run "
            f"CREATE ROLE {owner_sql} NOLOGIN; ALTER SCHEMA django OWNER TO {owner_sql}; "
            f"GRANT USAGE, CREATE ON SCHEMA django TO {console_sql}; then: {hint}"
        )
    cursor.execute(
        "SELECT pg_has_role(current_user, %s, 'MEMBER'), "
        "has_schema_privilege(%s, current_schema(), 'CREATE')",
        [owner, owner],
    )
    member, owner_may_create = cursor.fetchone()
    if not member:
        raise AuditOwnerNotReady(
            f"The audit table must be handed to “{owner}”, or changed by it, and the console's "
            f"role “{console}” may not act as it during this migration. {hint}"
        )
    if not owner_may_create:
        raise AuditOwnerNotReady(
            f"“{owner}” needs CREATE on the console's schema to own the audit table: as an "
            f"administrator run ALTER SCHEMA django OWNER TO {owner_sql}; "
            f"GRANT USAGE, CREATE ON SCHEMA django TO {console_sql};"
        )
    return console


@contextmanager
def acting_as_owner(connection: BaseDatabaseWrapper, owner: str) -> Iterator[CursorWrapper]:
    """Yield a cursor whose statements run as `owner` (a migration changing the audit table).

    Needs the membership lent for the migration run, like the hand-over; RESET before Django
    records the migration in its own table, which the owner cannot write."""
    with connection.cursor() as cursor:
        _require_membership(cursor, owner)
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
        try:
            yield cursor
        finally:
            cursor.execute("RESET ROLE")


def hand_audit_table_to_owner(connection: BaseDatabaseWrapper, owner: str) -> None:
    """Make `owner` own the audit table and its trigger; leave the console INSERT and SELECT."""
    with connection.cursor() as cursor:
        console = _require_membership(cursor, owner)
        cursor.execute(
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                sql.Identifier(AUDIT_TABLE), sql.Identifier(owner)
            )
        )
        cursor.execute(
            sql.SQL("ALTER FUNCTION " + TRIGGER_FUNCTION + " OWNER TO {}").format(
                sql.Identifier(owner)
            )
        )
        # Only the owner may grant: act as it for these lines (RESET before Django records the
        # migration in its own table, which the owner cannot write).
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
        cursor.execute(
            sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
                sql.Identifier(AUDIT_TABLE), sql.Identifier(console)
            )
        )
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [AUDIT_TABLE])
        sequence = cursor.fetchone()[0]
        if sequence:
            cursor.execute(
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                    sql.SQL(sequence), sql.Identifier(console)
                )
            )
        cursor.execute("RESET ROLE")


@dataclass
class Protection:
    """Whether the console's own role could change or erase the audit trail, and why."""

    role: str = ""
    owner: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


PROTECTION_SQL = """
SELECT
    r.rolname AS role,
    pg_get_userbyid(c.relowner) AS owner,
    r.rolsuper AS superuser,
    c.relowner = r.oid AS owns_table,
    pg_has_role(r.oid, c.relowner, 'MEMBER') AS member_of_owner,
    has_table_privilege(r.oid, c.oid, 'UPDATE') AS may_update,
    has_table_privilege(r.oid, c.oid, 'DELETE') AS may_delete,
    has_table_privilege(r.oid, c.oid, 'TRUNCATE') AS may_truncate,
    has_table_privilege(r.oid, c.oid, 'TRIGGER') AS may_trigger,
    n.nspowner = r.oid AS owns_schema
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_roles AS r ON r.rolname = current_user
WHERE c.oid = to_regclass(%s)
"""


def audit_protection(connection: BaseDatabaseWrapper) -> Protection:
    """Return what the console's role could do to the audit table that it should not."""
    with connection.cursor() as cursor:
        cursor.execute(PROTECTION_SQL, [AUDIT_TABLE])
        row = cursor.fetchone()
        names = [column.name for column in cursor.description]
    if row is None:
        return Protection(problems=["The audit table does not exist: run the migrations."])
    facts = dict(zip(names, row, strict=True))
    role, owner = facts["role"], facts["owner"]
    problems = []
    if facts["superuser"]:
        problems.append(f"The console's database role {role} is a superuser.")
    if facts["owns_table"]:
        problems.append(f"The console's database role {role} owns the audit table.")
    elif facts["member_of_owner"]:
        problems.append(
            f"The console's database role {role} is a member of {owner}, the audit table's "
            f"owner: as an administrator run "
            f"REVOKE {quote_identifier(owner)} FROM {quote_identifier(role)};"
        )
    rights = (
        []
        if facts["superuser"] or facts["owns_table"]
        else [
            verb
            for verb, held in (
                ("UPDATE", facts["may_update"]),
                ("DELETE", facts["may_delete"]),
                ("TRUNCATE", facts["may_truncate"]),
                ("TRIGGER", facts["may_trigger"]),
            )
            if held
        ]
    )
    if rights:
        problems.append(f"The console's role may {', '.join(rights)} the audit table.")
    if facts["owns_schema"]:
        problems.append(
            f"The console's role {role} owns schema django, so it could drop the schema with "
            "the audit table inside: give the schema to the audit owner (README)."
        )
    return Protection(role=role, owner=owner, problems=problems)
