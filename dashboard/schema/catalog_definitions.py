"""Per-table catalog questions that wait behind a table's exclusive lock: sizes, definitions."""

from __future__ import annotations

from sqlalchemy import Connection, text

from dashboard.schema.catalog_rows import Row, _rows

TABLE_SIZE_SQL = text(
    """
    SELECT
        pg_total_relation_size(c.oid) AS total_bytes,
        pg_table_size(c.oid) AS table_bytes,
        pg_indexes_size(c.oid) AS index_bytes
    FROM pg_catalog.pg_class AS c
    WHERE c.oid = :oid
    """
)

INDEX_SIZES_SQL = text(
    """
    SELECT
        ic.relname AS name,
        pg_relation_size(i.indexrelid) AS bytes
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = :oid
    """
)

# Defaults and generation expressions, by column name (pg_get_expr locks the table).
COLUMN_EXPRESSIONS_SQL = text(
    """
    SELECT
        a.attname AS name,
        pg_get_expr(d.adbin, d.adrelid) AS expression
    FROM pg_catalog.pg_attrdef AS d
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
    WHERE d.adrelid = :oid
    """
)

CONSTRAINT_DEFINITIONS_SQL = text(
    """
    SELECT
        con.conname AS name,
        pg_get_constraintdef(con.oid, true) AS definition
    FROM pg_catalog.pg_constraint AS con
    WHERE con.conrelid = :oid
    """
)

INDEX_DEFINITIONS_SQL = text(
    """
    SELECT
        ic.relname AS name,
        pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = :oid
    """
)

TRIGGER_DEFINITIONS_SQL = text(
    """
    SELECT
        t.tgname AS name,
        pg_get_triggerdef(t.oid, true) AS definition
    FROM pg_catalog.pg_trigger AS t
    WHERE t.tgrelid = :oid
      AND NOT t.tgisinternal
    """
)

POLICY_EXPRESSIONS_SQL = text(
    """
    SELECT
        pol.polname AS name,
        pg_get_expr(pol.polqual, pol.polrelid) AS using_expression,
        pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expression
    FROM pg_catalog.pg_policy AS pol
    WHERE pol.polrelid = :oid
    """
)


def table_size(conn: Connection, oid: int) -> Row:
    """Return one table's total, heap (with TOAST) and index size in bytes."""
    return dict(conn.execute(TABLE_SIZE_SQL, {"oid": oid}).mappings().one())


def index_sizes(conn: Connection, oid: int) -> dict[str, int]:
    """Return the size in bytes of each index of the table, by index name."""
    return {str(r["name"]): int(r["bytes"]) for r in _rows(conn, INDEX_SIZES_SQL, {"oid": oid})}


def column_expressions(conn: Connection, oid: int) -> dict[str, str]:
    """Return each column's default or generation expression, by column name."""
    rows = _rows(conn, COLUMN_EXPRESSIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["expression"]) for r in rows}


def constraint_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the definition of each constraint of the table, by constraint name."""
    rows = _rows(conn, CONSTRAINT_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


def index_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the CREATE INDEX statement of each index of the table, by index name."""
    rows = _rows(conn, INDEX_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


def trigger_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the CREATE TRIGGER statement of each user-defined trigger, by trigger name."""
    rows = _rows(conn, TRIGGER_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


def policy_expressions(conn: Connection, oid: int) -> dict[str, tuple[str | None, str | None]]:
    """Return each policy's (USING, WITH CHECK) expressions, by policy name."""
    rows = _rows(conn, POLICY_EXPRESSIONS_SQL, {"oid": oid})
    return {str(r["name"]): (r["using_expression"], r["check_expression"]) for r in rows}
