"""Catalog questions about the target schema, one named function per question.

Every function takes an open connection (from `run_read`) and returns plain dicts. Values are
always bound; names of schemas and tables are compared with catalog columns, never spliced into
SQL. Two kinds of question wait behind an ACCESS EXCLUSIVE lock on the table (a running ALTER
TABLE) until `lock_timeout`: sizes (`pg_*_size()` open the relation) and definitions rendered by
`pg_get_expr()`, `pg_get_constraintdef()`, `pg_get_indexdef()` and `pg_get_triggerdef()`. They are
kept apart from the lock-free questions (which read the catalog tables only), so that a locked
table costs its sizes and definitions while its columns, keys and indexes still show.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

Row = dict[str, object]

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

CONSTRAINT_DEFINITIONS_SQL = text(
    """
    SELECT
        con.conname AS name,
        pg_get_constraintdef(con.oid, true) AS definition
    FROM pg_catalog.pg_constraint AS con
    WHERE con.conrelid = :oid
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

# Foreign keys between tables of the schema (both ends inside it), for the ER diagram.
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
    ORDER BY src.relname, con.conname
    """
)

FOREIGN_KEY_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


def _rows(conn: Connection, statement, params: dict[str, object]) -> list[Row]:
    return [dict(row) for row in conn.execute(statement, params).mappings()]


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


def table_facts(conn: Connection, oid: int) -> Row:
    """Return one table's estimated rows, RLS flags, owner, comment and activity counters."""
    return dict(conn.execute(TABLE_FACTS_SQL, {"oid": oid}).mappings().one())


def table_size(conn: Connection, oid: int) -> Row:
    """Return one table's total, heap (with TOAST) and index size in bytes."""
    return dict(conn.execute(TABLE_SIZE_SQL, {"oid": oid}).mappings().one())


def index_sizes(conn: Connection, oid: int) -> dict[str, int]:
    """Return the size in bytes of each index of the table, by index name."""
    return {str(r["name"]): int(r["bytes"]) for r in _rows(conn, INDEX_SIZES_SQL, {"oid": oid})}


def columns(conn: Connection, oid: int) -> list[Row]:
    """Return the table's columns in order: type, nullability, identity, key flags, comment."""
    return _rows(conn, COLUMNS_SQL, {"oid": oid})


def column_expressions(conn: Connection, oid: int) -> dict[str, str]:
    """Return each column's default or generation expression, by column name."""
    rows = _rows(conn, COLUMN_EXPRESSIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["expression"]) for r in rows}


def constraints(conn: Connection, oid: int) -> list[Row]:
    """Return the table's primary key, unique, exclusion and check constraints."""
    return _rows(conn, CONSTRAINTS_SQL, {"oid": oid})


def constraint_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the definition of each constraint of the table, by constraint name."""
    rows = _rows(conn, CONSTRAINT_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


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


def index_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the CREATE INDEX statement of each index of the table, by index name."""
    rows = _rows(conn, INDEX_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


def triggers(conn: Connection, oid: int) -> list[Row]:
    """Return the table's user-defined triggers with their state and function."""
    return _rows(conn, TRIGGERS_SQL, {"oid": oid})


def trigger_definitions(conn: Connection, oid: int) -> dict[str, str]:
    """Return the CREATE TRIGGER statement of each user-defined trigger, by trigger name."""
    rows = _rows(conn, TRIGGER_DEFINITIONS_SQL, {"oid": oid})
    return {str(r["name"]): str(r["definition"]) for r in rows}


def policies(conn: Connection, oid: int) -> list[Row]:
    """Return the table's row-level security policies: command, roles, permissive or not."""
    return _rows(conn, POLICIES_SQL, {"oid": oid})


def policy_expressions(conn: Connection, oid: int) -> dict[str, tuple[str | None, str | None]]:
    """Return each policy's (USING, WITH CHECK) expressions, by policy name."""
    rows = _rows(conn, POLICY_EXPRESSIONS_SQL, {"oid": oid})
    return {str(r["name"]): (r["using_expression"], r["check_expression"]) for r in rows}  # type: ignore[misc]


def diagram_columns(conn: Connection, schema: str, names: list[str] | None = None) -> list[Row]:
    """Return the columns of the named tables (all tables when None) with PK/FK flags."""
    return _rows(conn, DIAGRAM_COLUMNS_SQL, {"schema": schema, "names": names})


def diagram_foreign_keys(conn: Connection, schema: str) -> list[Row]:
    """Return every foreign key whose both ends are tables of the schema."""
    return _rows(conn, DIAGRAM_FOREIGN_KEYS_SQL, {"schema": schema})
