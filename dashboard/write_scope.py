"""The catalog questions the write door asks of its own role, on the write's connection: may
it write at all, where row-level security binds it, and the types of the columns it writes."""

from __future__ import annotations

import psycopg

from dashboard.target import target_schema
from dashboard.users.ownership import OwnershipMap
from dashboard.write_plan import ColumnType, WriteRefused, WriteScope

WRITE_ROLE_SQL = """
SELECT
    r.rolname AS role,
    r.rolsuper AS superuser,
    r.rolbypassrls AS bypassrls,
    EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = n.oid
          AND c.relkind IN ('r', 'p')
          AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
    ) AS owns_tables
FROM pg_catalog.pg_roles AS r
LEFT JOIN pg_catalog.pg_namespace AS n
    ON n.nspname = %(schema)s
WHERE r.rolname = current_user
"""

RLS_TABLES_SQL = """
SELECT c.relname AS name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND c.relkind IN ('r', 'p')
  AND c.relrowsecurity
"""

COLUMN_TYPES_SQL = """
SELECT
    c.relname AS table_name,
    a.attname AS column_name,
    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_sql,
    a.attidentity AS identity,
    a.attgenerated AS generated
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND c.relname = ANY(%(tables)s)
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""


def read_scope(conn: psycopg.Connection, owners: OwnershipMap, subject: str) -> WriteScope:
    """Return the write scope read on `conn`, or refuse a role that could do harm."""
    schema = target_schema()
    role = conn.execute(WRITE_ROLE_SQL, {"schema": schema}).fetchone()
    assert role is not None
    name, superuser, bypassrls, owns_tables = role
    problems = [
        sentence
        for flag, sentence in (
            (superuser, "is a superuser"),
            (bypassrls, "has BYPASSRLS, so row-level security would not hold it"),
            (owns_tables, f"owns tables of schema {schema} (an owner bypasses their policies)"),
        )
        if flag
    ]
    if problems:
        raise WriteRefused(
            f"The write role “{name}” (TARGET_WRITE_DATABASE_URL) {'; '.join(problems)}, so the "
            "console will not write as it. Use the application's runtime role (for example "
            "todo_app), as the README's security section says."
        )
    rls = frozenset(row[0] for row in conn.execute(RLS_TABLES_SQL, {"schema": schema}))
    columns: dict[str, dict[str, ColumnType]] = {}
    for table, column, type_sql, identity, generated in conn.execute(
        COLUMN_TYPES_SQL, {"schema": schema, "tables": list(owners.owned)}
    ):
        columns.setdefault(table, {})[column] = ColumnType(type_sql, identity, generated)
    return WriteScope(owners, subject, str(name), rls, columns)
