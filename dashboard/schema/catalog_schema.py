"""Schema-wide catalog questions: the table list, its sizes, a table's oid, ER diagram rows.

Table sizes (`pg_*_size()` open the relation) wait behind an ACCESS EXCLUSIVE lock until
`lock_timeout`; the other questions read the catalog tables only.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from dashboard.schema.catalog_rows import Row, _rows

TABLES_SQL = text(
    """
    SELECT
        c.relname AS name,
        c.relkind = 'p' AS is_partitioned,
        c.relispartition AS is_partition,
        c.reltuples::bigint AS estimated_rows,
        c.relrowsecurity AS rls_enabled,
        c.relforcerowsecurity AS rls_forced,
        obj_description(c.oid, 'pg_class') AS comment,
        (SELECT count(*)
         FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = c.oid
           AND a.attnum > 0
           AND NOT a.attisdropped) AS column_count
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'p')
      AND (
          :search = ''
          OR strpos(lower(c.relname), lower(:search)) > 0
          OR strpos(lower(coalesce(obj_description(c.oid, 'pg_class'), '')), lower(:search)) > 0
      )
    ORDER BY c.relname
    """
)

TABLE_SIZES_SQL = text(
    """
    SELECT
        c.relname AS name,
        pg_total_relation_size(c.oid) AS total_bytes,
        pg_indexes_size(c.oid) AS index_bytes
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'p')
      AND c.relname = ANY(CAST(:names AS text[]))
    """
)

TABLE_OID_SQL = text(
    """
    SELECT c.oid
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relname = :table
      AND c.relkind IN ('r', 'p')
    """
)

# For the ER diagram: every column of the chosen tables (all when :names is NULL), with flags
# telling whether it is part of the primary key or of a foreign key. Partitions are left out:
# they repeat their parent's columns and keys.
DIAGRAM_COLUMNS_SQL = text(
    """
    SELECT
        c.relname AS table_name,
        a.attname AS column_name,
        format_type(a.atttypid, a.atttypmod) AS type,
        a.attnotnull AS not_null,
        EXISTS (SELECT 1
                FROM pg_catalog.pg_constraint AS pk
                WHERE pk.conrelid = c.oid
                  AND pk.contype = 'p'
                  AND a.attnum = ANY(pk.conkey)) AS in_primary_key,
        EXISTS (SELECT 1
                FROM pg_catalog.pg_constraint AS fk
                WHERE fk.conrelid = c.oid
                  AND fk.contype = 'f'
                  AND a.attnum = ANY(fk.conkey)) AS in_foreign_key
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute AS a
      ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
      AND (CAST(:names AS text[]) IS NULL OR c.relname = ANY(CAST(:names AS text[])))
    ORDER BY c.relname, a.attnum
    """
)

# Foreign keys between tables of the schema (both ends inside it), for the ER diagram: all of
# them, or (with :names) those with an end at one of the named tables.
DIAGRAM_FOREIGN_KEYS_SQL = text(
    """
    SELECT
        con.conname AS name,
        src.relname AS source,
        ARRAY(SELECT a.attname
              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS source_columns,
        dst.relname AS target,
        ARRAY(SELECT a.attname
              FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS target_columns
    FROM pg_catalog.pg_constraint AS con
    JOIN pg_catalog.pg_class AS src ON src.oid = con.conrelid
    JOIN pg_catalog.pg_class AS dst ON dst.oid = con.confrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = con.connamespace
    WHERE n.nspname = :schema
      AND con.contype = 'f'
      AND con.conparentid = 0
      AND src.relnamespace = n.oid
      AND dst.relnamespace = n.oid
      AND NOT src.relispartition
      AND NOT dst.relispartition
      AND (
          CAST(:names AS text[]) IS NULL
          OR src.relname = ANY(CAST(:names AS text[]))
          OR dst.relname = ANY(CAST(:names AS text[]))
      )
    ORDER BY src.relname, con.conname
    """
)


def tables(conn: Connection, schema: str, search: str = "") -> list[Row]:
    """Return the schema's tables (name, estimated rows, RLS, comment) matching `search`."""
    return _rows(conn, TABLES_SQL, {"schema": schema, "search": search})


def table_sizes(conn: Connection, schema: str, names: list[str]) -> dict[str, Row]:
    """Return total and index size in bytes by table name (waits behind exclusive locks)."""
    rows = _rows(conn, TABLE_SIZES_SQL, {"schema": schema, "names": names})
    return {str(row["name"]): row for row in rows}


def table_oid(conn: Connection, schema: str, table: str) -> int | None:
    """Return the oid of the table `schema.table`, or None if there is none."""
    return conn.execute(TABLE_OID_SQL, {"schema": schema, "table": table}).scalar_one_or_none()


def diagram_columns(conn: Connection, schema: str, names: list[str] | None = None) -> list[Row]:
    """Return the columns of the named tables (all tables when None) with PK/FK flags."""
    return _rows(conn, DIAGRAM_COLUMNS_SQL, {"schema": schema, "names": names})


def diagram_foreign_keys(
    conn: Connection, schema: str, touching: list[str] | None = None
) -> list[Row]:
    """Return the foreign keys whose both ends are tables of the schema (only those with an
    end at one of the `touching` tables, when given)."""
    return _rows(conn, DIAGRAM_FOREIGN_KEYS_SQL, {"schema": schema, "names": touching})
