"""Per-table catalog questions that read the catalog tables only, so never wait for locks."""

from __future__ import annotations

from sqlalchemy import Connection, text

from dashboard.schema.catalog_rows import Row, _rows

TABLE_FACTS_SQL = text(
    """
    SELECT
        c.relname AS name,
        c.relkind = 'p' AS is_partitioned,
        c.relispartition AS is_partition,
        parent.relname AS partition_of,
        c.reltuples::bigint AS estimated_rows,
        c.relrowsecurity AS rls_enabled,
        c.relforcerowsecurity AS rls_forced,
        pg_get_userbyid(c.relowner) AS owner,
        obj_description(c.oid, 'pg_class') AS comment,
        s.seq_scan AS sequential_scans,
        s.idx_scan AS index_scans,
        s.n_live_tup AS live_rows,
        s.n_dead_tup AS dead_rows,
        greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
        greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
    FROM pg_catalog.pg_class AS c
    LEFT JOIN pg_catalog.pg_stat_user_tables AS s ON s.relid = c.oid
    LEFT JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = c.oid AND c.relispartition
    LEFT JOIN pg_catalog.pg_class AS parent ON parent.oid = i.inhparent
    WHERE c.oid = :oid
    """
)

COLUMNS_SQL = text(
    """
    SELECT
        a.attnum AS position,
        a.attname AS name,
        format_type(a.atttypid, a.atttypmod) AS type,
        CASE t.typtype
            WHEN 'e' THEN 'enum'
            WHEN 'd' THEN 'domain'
            WHEN 'c' THEN 'composite'
            WHEN 'r' THEN 'range'
            ELSE CASE WHEN t.typcategory = 'A' THEN 'array' ELSE '' END
        END AS type_kind,
        CASE WHEN t.typtype = 'e' THEN
            ARRAY(SELECT e.enumlabel
                  FROM pg_catalog.pg_enum AS e
                  WHERE e.enumtypid = t.oid
                  ORDER BY e.enumsortorder)
        END AS enum_labels,
        NOT a.attnotnull AS nullable,
        a.atthasdef AND a.attgenerated = '' AS has_default,
        a.attgenerated <> '' AS is_generated,
        CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
        col_description(a.attrelid, a.attnum) AS comment,
        EXISTS (SELECT 1
                FROM pg_catalog.pg_constraint AS pk
                WHERE pk.conrelid = a.attrelid
                  AND pk.contype = 'p'
                  AND a.attnum = ANY(pk.conkey)) AS in_primary_key,
        EXISTS (SELECT 1
                FROM pg_catalog.pg_constraint AS fk
                WHERE fk.conrelid = a.attrelid
                  AND fk.contype = 'f'
                  AND a.attnum = ANY(fk.conkey)) AS in_foreign_key
    FROM pg_catalog.pg_attribute AS a
    JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
    WHERE a.attrelid = :oid
      AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)

# Primary key, unique, check and exclusion constraints (foreign keys have their own question).
CONSTRAINTS_SQL = text(
    """
    SELECT
        con.conname AS name,
        CASE con.contype
            WHEN 'p' THEN 'primary key'
            WHEN 'u' THEN 'unique'
            WHEN 'c' THEN 'check'
            WHEN 'x' THEN 'exclusion'
        END AS kind,
        ARRAY(SELECT a.attname
              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
        con.convalidated AS validated,
        con.condeferrable AS deferrable
    FROM pg_catalog.pg_constraint AS con
    WHERE con.conrelid = :oid
      AND con.contype IN ('p', 'u', 'c', 'x')
    ORDER BY array_position(ARRAY['p', 'u', 'x', 'c']::"char"[], con.contype), con.conname
    """
)

# Constraints inherited by partitions (conparentid <> 0) are left out: they repeat the parent's.
OUTGOING_FOREIGN_KEYS_SQL = text(
    """
    SELECT
        con.conname AS name,
        ARRAY(SELECT a.attname
              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
        other_ns.nspname AS other_schema,
        other.relname AS other_table,
        ARRAY(SELECT a.attname
              FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS other_columns,
        con.confdeltype AS on_delete,
        con.confupdtype AS on_update,
        con.convalidated AS validated
    FROM pg_catalog.pg_constraint AS con
    JOIN pg_catalog.pg_class AS other ON other.oid = con.confrelid
    JOIN pg_catalog.pg_namespace AS other_ns ON other_ns.oid = other.relnamespace
    WHERE con.conrelid = :oid
      AND con.contype = 'f'
      AND con.conparentid = 0
    ORDER BY con.conname
    """
)

INCOMING_FOREIGN_KEYS_SQL = text(
    """
    SELECT
        con.conname AS name,
        ARRAY(SELECT a.attname
              FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
        other_ns.nspname AS other_schema,
        other.relname AS other_table,
        ARRAY(SELECT a.attname
              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS other_columns,
        con.confdeltype AS on_delete,
        con.confupdtype AS on_update,
        con.convalidated AS validated
    FROM pg_catalog.pg_constraint AS con
    JOIN pg_catalog.pg_class AS other ON other.oid = con.conrelid
    JOIN pg_catalog.pg_namespace AS other_ns ON other_ns.oid = other.relnamespace
    WHERE con.confrelid = :oid
      AND con.contype = 'f'
      AND con.conparentid = 0
    ORDER BY other.relname, con.conname
    """
)

INDEXES_SQL = text(
    """
    SELECT
        ic.relname AS name,
        s.idx_scan AS scans,
        i.indisvalid AS valid,
        i.indisunique AS is_unique,
        i.indisprimary AS is_primary,
        con.conname AS constraint_name
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_catalog.pg_stat_user_indexes AS s ON s.indexrelid = i.indexrelid
    LEFT JOIN pg_catalog.pg_constraint AS con
      ON con.conindid = i.indexrelid
     AND con.conrelid = i.indrelid
     AND con.contype IN ('p', 'u', 'x')
    WHERE i.indrelid = :oid
    ORDER BY i.indisprimary DESC, ic.relname
    """
)

TRIGGERS_SQL = text(
    """
    SELECT
        t.tgname AS name,
        CASE t.tgenabled
            WHEN 'O' THEN 'enabled'
            WHEN 'D' THEN 'disabled'
            WHEN 'R' THEN 'replica only'
            WHEN 'A' THEN 'always'
        END AS state,
        t.tgfoid::regproc::text AS function
    FROM pg_catalog.pg_trigger AS t
    WHERE t.tgrelid = :oid
      AND NOT t.tgisinternal
    ORDER BY t.tgname
    """
)

POLICIES_SQL = text(
    """
    SELECT
        pol.polname AS name,
        pol.polpermissive AS permissive,
        CASE pol.polcmd
            WHEN 'r' THEN 'SELECT'
            WHEN 'a' THEN 'INSERT'
            WHEN 'w' THEN 'UPDATE'
            WHEN 'd' THEN 'DELETE'
            WHEN '*' THEN 'ALL'
        END AS command,
        CASE WHEN pol.polroles = '{0}' THEN ARRAY['PUBLIC']
             ELSE ARRAY(SELECT r.rolname
                        FROM pg_catalog.pg_roles AS r
                        WHERE r.oid = ANY(pol.polroles)
                        ORDER BY r.rolname)
        END AS roles
    FROM pg_catalog.pg_policy AS pol
    WHERE pol.polrelid = :oid
    ORDER BY pol.polname
    """
)

FOREIGN_KEY_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


def table_facts(conn: Connection, oid: int) -> Row:
    """Return one table's estimated rows, RLS flags, owner, comment and activity counters."""
    return dict(conn.execute(TABLE_FACTS_SQL, {"oid": oid}).mappings().one())


def columns(conn: Connection, oid: int) -> list[Row]:
    """Return the table's columns in order: type, nullability, identity, key flags, comment."""
    return _rows(conn, COLUMNS_SQL, {"oid": oid})


def constraints(conn: Connection, oid: int) -> list[Row]:
    """Return the table's primary key, unique, exclusion and check constraints."""
    return _rows(conn, CONSTRAINTS_SQL, {"oid": oid})


def _with_action_words(rows: list[Row]) -> list[Row]:
    for row in rows:
        row["on_delete"] = FOREIGN_KEY_ACTIONS.get(str(row["on_delete"]), str(row["on_delete"]))
        row["on_update"] = FOREIGN_KEY_ACTIONS.get(str(row["on_update"]), str(row["on_update"]))
    return rows


def outgoing_foreign_keys(conn: Connection, oid: int) -> list[Row]:
    """Return the foreign keys of the table (the tables it references)."""
    return _with_action_words(_rows(conn, OUTGOING_FOREIGN_KEYS_SQL, {"oid": oid}))


def incoming_foreign_keys(conn: Connection, oid: int) -> list[Row]:
    """Return the foreign keys of other tables that reference this table."""
    return _with_action_words(_rows(conn, INCOMING_FOREIGN_KEYS_SQL, {"oid": oid}))


def indexes(conn: Connection, oid: int) -> list[Row]:
    """Return the table's indexes: scans, validity, uniqueness and the constraint they back."""
    return _rows(conn, INDEXES_SQL, {"oid": oid})


def triggers(conn: Connection, oid: int) -> list[Row]:
    """Return the table's user-defined triggers with their state and function."""
    return _rows(conn, TRIGGERS_SQL, {"oid": oid})


def policies(conn: Connection, oid: int) -> list[Row]:
    """Return the table's row-level security policies: command, roles, permissive or not."""
    return _rows(conn, POLICIES_SQL, {"oid": oid})
