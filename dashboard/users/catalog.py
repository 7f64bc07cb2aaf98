"""Catalog questions the support view asks, one named function per question.

Each takes an open connection (from `run_read`) and returns plain data. The schema is always
a bound value compared with catalog columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

# Partitions are left out of the support view: their rows are read through the parent.
TABLE_FLAGS_SQL = text(
    """
    SELECT
        c.relname AS name,
        c.relispartition AS is_partition,
        c.relrowsecurity AS rls_enabled,
        c.relforcerowsecurity AS rls_forced,
        c.reltuples::bigint AS estimated_rows
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)

# The first key of every index (a column name, or an expression such as `lower(email::text)`),
# and whether a `LIKE 'abc%'` on it can use the index: a pattern_ops operator class, or a
# "C"/POSIX collation (the index's own, or the database's when the index uses the default).
# pg_get_indexdef() waits behind an ACCESS EXCLUSIVE lock on the table (a running migration),
# so it is only called for expression keys; column keys come from pg_attribute, lock-free.
LEADING_INDEX_KEYS_SQL = text(
    """
    SELECT
        t.relname AS table_name,
        ic.relname AS index_name,
        CASE
            WHEN i.indkey[0] <> 0 THEN quote_ident(a.attname)
            ELSE pg_get_indexdef(i.indexrelid, 1, true)
        END AS leading_key,
        i.indisvalid AS valid,
        (
            opc.opcname LIKE '%pattern_ops'
            OR coll.collname IN ('C', 'POSIX')
            OR (coll.collname = 'default'
                AND (SELECT d.datcollate IN ('C', 'POSIX')
                     FROM pg_catalog.pg_database AS d
                     WHERE d.datname = current_database()))
        ) AS prefix_searchable
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS t ON t.oid = i.indrelid
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
    LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
    LEFT JOIN pg_catalog.pg_opclass AS opc ON opc.oid = i.indclass[0]
    LEFT JOIN pg_catalog.pg_collation AS coll ON coll.oid = i.indcollation[0]
    WHERE n.nspname = :schema
      AND t.relkind IN ('r', 'p')
      AND i.indpred IS NULL
    ORDER BY t.relname, ic.relname
    """
)

UNVALIDATED_FOREIGN_KEYS_SQL = text(
    """
    SELECT
        t.relname AS table_name,
        con.conname AS name
    FROM pg_catalog.pg_constraint AS con
    JOIN pg_catalog.pg_class AS t ON t.oid = con.conrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
    WHERE n.nspname = :schema
      AND con.contype = 'f'
      AND NOT con.convalidated
    """
)


@dataclass(frozen=True)
class IndexKey:
    """The first key of one index."""

    index: str
    key: str  # column name or expression text
    valid: bool
    prefix_searchable: bool


@dataclass(frozen=True)
class TableFlags:
    name: str
    is_partition: bool
    rls_enabled: bool
    rls_forced: bool
    estimated_rows: int | None  # None: never analyzed


@dataclass
class SchemaFacts:
    """What the catalog says about the schema's tables (cached with the reflection)."""

    flags: dict[str, TableFlags] = field(default_factory=dict)
    index_keys: dict[str, list[IndexKey]] = field(default_factory=dict)
    unvalidated_foreign_keys: set[tuple[str, str]] = field(default_factory=set)

    def leading_index(self, table: str, key: str) -> IndexKey | None:
        """Return a valid index of `table` whose first key is `key`, or None."""
        for index in self.index_keys.get(table, []):
            if index.valid and index.key == key:
                return index
        return None

    def partitions(self) -> set[str]:
        return {name for name, flags in self.flags.items() if flags.is_partition}


def table_flags(conn: Connection, schema: str) -> dict[str, TableFlags]:
    """Return partition and row-level-security flags and row estimates by table name."""
    rows = conn.execute(TABLE_FLAGS_SQL, {"schema": schema}).mappings()
    return {
        row["name"]: TableFlags(
            row["name"],
            row["is_partition"],
            row["rls_enabled"],
            row["rls_forced"],
            row["estimated_rows"] if row["estimated_rows"] >= 0 else None,
        )
        for row in rows
    }


def leading_index_keys(conn: Connection, schema: str) -> dict[str, list[IndexKey]]:
    """Return, per table, the first key of each of its (non-partial) indexes."""
    found: dict[str, list[IndexKey]] = {}
    for row in conn.execute(LEADING_INDEX_KEYS_SQL, {"schema": schema}).mappings():
        found.setdefault(row["table_name"], []).append(
            IndexKey(
                row["index_name"],
                _unquoted(row["leading_key"]),
                row["valid"],
                bool(row["prefix_searchable"]),
            )
        )
    return found


def unvalidated_foreign_keys(conn: Connection, schema: str) -> set[tuple[str, str]]:
    """Return (table, constraint) of foreign keys added NOT VALID and never validated."""
    rows = conn.execute(UNVALIDATED_FOREIGN_KEYS_SQL, {"schema": schema}).mappings()
    return {(row["table_name"], row["name"]) for row in rows}


def schema_facts(conn: Connection, schema: str) -> SchemaFacts:
    """Return table flags, index keys and unvalidated foreign keys of the schema."""
    return SchemaFacts(
        table_flags(conn, schema),
        leading_index_keys(conn, schema),
        unvalidated_foreign_keys(conn, schema),
    )


def _unquoted(key: str) -> str:
    """Return a column name as written in the catalog (`"UserId"` → `UserId`)."""
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        return key[1:-1].replace('""', '"')
    return key
