"""Index health of the target schema: unused, duplicate/redundant, invalid indexes, and tables
read mostly by sequential scans. Catalog SQL in the style of PgHero's methods/indexes.rb.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from dashboard.suggested_sql import drop_index_sql
from dashboard.target import run_read, target_schema

INDEX_CATALOG_SQL = text(
    """
    SELECT
        t.relname AS table_name,
        ic.relname AS index_name,
        am.amname AS method,
        i.indisunique AS is_unique,
        i.indisprimary AS is_primary,
        i.indisvalid AS is_valid,
        con.contype AS constraint_type,
        con.conname AS constraint_name,
        i.indnkeyatts AS key_count,
        ARRAY(
            SELECT a.attname
            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
            LEFT JOIN pg_catalog.pg_attribute AS a
                ON a.attrelid = i.indrelid
               AND a.attnum = k.attnum
            ORDER BY k.position
        ) AS columns,
        i.indclass::oid[] AS opclasses,
        i.indcollation::oid[] AS collations,
        i.indoption::int2[] AS options,
        pg_get_expr(i.indexprs, i.indrelid) AS expressions,
        pg_get_expr(i.indpred, i.indrelid) AS predicate,
        pg_get_indexdef(i.indexrelid) AS definition,
        pg_relation_size(i.indexrelid) AS size_bytes,
        s.idx_scan AS scans,
        t.reltuples AS table_rows
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS ic
        ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_class AS t
        ON t.oid = i.indrelid
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = t.relnamespace
    JOIN pg_catalog.pg_am AS am
        ON am.oid = ic.relam
    LEFT JOIN pg_catalog.pg_constraint AS con
        ON con.conindid = i.indexrelid
       AND con.conrelid = i.indrelid
       AND con.contype IN ('p', 'u', 'x')
    LEFT JOIN pg_catalog.pg_stat_user_indexes AS s
        ON s.indexrelid = i.indexrelid
    WHERE n.nspname = :schema
    ORDER BY t.relname, ic.relname
    """
)

TABLE_ROWS_SQL = text(
    """
    SELECT
        c.relname AS table_name,
        c.reltuples AS table_rows
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = c.relnamespace
    WHERE n.nspname = :schema
      AND c.relkind IN ('r', 'p')
    """
)

SEQUENTIAL_SCAN_TABLES_SQL = text(
    """
    SELECT
        s.relname AS table_name,
        s.seq_scan,
        s.seq_tup_read,
        coalesce(s.idx_scan, 0) AS idx_scan,
        s.n_live_tup AS live_rows,
        pg_total_relation_size(s.relid) AS total_bytes,
        s.seq_tup_read / NULLIF(s.seq_scan, 0) AS rows_per_seq_scan,
        100.0 * coalesce(s.idx_scan, 0)
            / NULLIF(s.seq_scan + coalesce(s.idx_scan, 0), 0) AS index_scan_percent
    FROM pg_catalog.pg_stat_user_tables AS s
    WHERE s.schemaname = :schema
      AND s.n_live_tup >= :min_rows
      AND s.seq_tup_read >= :min_rows  -- the sequential scans read real volumes
      AND coalesce(s.idx_scan, 0) < s.seq_scan * 19  -- under 95 % of scans use an index
    ORDER BY s.seq_tup_read DESC
    LIMIT 50
    """
)

STATS_RESET_SQL = text(
    """
    SELECT stats_reset
    FROM pg_catalog.pg_stat_database
    WHERE datname = current_database()
    """
)


@dataclass(frozen=True)
class IndexInfo:
    """One index of the target schema as the catalog describes it."""

    table: str
    name: str
    method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    constraint_type: str | None
    constraint_name: str | None
    key_count: int
    columns: tuple[str | None, ...]  # None for an expression column
    opclasses: tuple[int, ...]
    collations: tuple[int, ...]
    options: tuple[int, ...]
    expressions: str | None
    predicate: str | None
    definition: str
    size_bytes: int
    scans: int | None
    table_rows: float
    schema: str

    @property
    def drop_sql(self) -> str:
        """Return the statement that drops this index without blocking writes."""
        return drop_index_sql(self.schema, self.name) + ";"

    @property
    def key_columns(self) -> tuple[str | None, ...]:
        return self.columns[: self.key_count]

    @property
    def include_columns(self) -> tuple[str | None, ...]:
        return self.columns[self.key_count :]

    @property
    def key_signature(self) -> tuple[tuple[Any, ...], ...]:
        """Return what makes two indexes' keys equivalent: column, opclass, collation, order."""
        return tuple(
            zip(
                self.key_columns,
                self.opclasses[: self.key_count],
                self.collations[: self.key_count],
                self.options[: self.key_count],
                strict=False,
            )
        )

    @property
    def backs_constraint(self) -> bool:
        return self.is_primary or self.constraint_type is not None


@dataclass(frozen=True)
class Redundancy:
    """An index that another index makes unnecessary."""

    index: IndexInfo
    covered_by: IndexInfo
    kind: str  # "duplicate" (same keys) or "prefix" (its keys lead the other's)

    @property
    def drop_sql(self) -> str:
        return self.index.drop_sql


def index_catalog(conn: Connection, schema: str) -> list[IndexInfo]:
    """Return every index of `schema` with its keys, flags, size and scan count."""
    rows = conn.execute(INDEX_CATALOG_SQL, {"schema": schema}).mappings()
    return [
        IndexInfo(
            table=row["table_name"],
            name=row["index_name"],
            method=row["method"],
            is_unique=row["is_unique"],
            is_primary=row["is_primary"],
            is_valid=row["is_valid"],
            constraint_type=row["constraint_type"],
            constraint_name=row["constraint_name"],
            key_count=row["key_count"],
            columns=tuple(row["columns"]),
            opclasses=tuple(row["opclasses"]),
            collations=tuple(row["collations"]),
            options=tuple(row["options"]),
            expressions=row["expressions"],
            predicate=row["predicate"],
            definition=row["definition"],
            size_bytes=row["size_bytes"],
            scans=row["scans"],
            table_rows=float(row["table_rows"]),
            schema=schema,
        )
        for row in rows
    ]


def table_row_estimates(conn: Connection, schema: str) -> dict[str, float | None]:
    """Return the planner's row estimate per table (None when never analyzed)."""
    rows = conn.execute(TABLE_ROWS_SQL, {"schema": schema}).all()
    return {row.table_name: (row.table_rows if row.table_rows >= 0 else None) for row in rows}


def never_scanned(catalog: list[IndexInfo]) -> list[IndexInfo]:
    """Return indexes never scanned, leaving out primary keys and unique/constraint indexes."""
    unused = [
        index
        for index in catalog
        if index.scans == 0
        and index.is_valid
        and not index.is_unique
        and not index.backs_constraint
    ]
    return sorted(unused, key=lambda index: (-index.size_bytes, index.table, index.name))


def leads_with_owner_column(index: IndexInfo, owner_columns: frozenset[tuple[str, str]]) -> bool:
    """Return True when the index's first key is a column that leads a row to its owner."""
    first = index.key_columns[0] if index.key_columns else None
    return first is not None and (index.table, first) in owner_columns


def unused_indexes(
    catalog: list[IndexInfo], owner_columns: frozenset[tuple[str, str]] = frozenset()
) -> list[IndexInfo]:
    """Return never-scanned indexes worth dropping: not those on an owner column, which the
    isolation report asks for (a user's rows, and the cascade of a user's deletion, need them
    however rarely they are read)."""
    return [
        index
        for index in never_scanned(catalog)
        if not leads_with_owner_column(index, owner_columns)
    ]


def unused_owner_indexes(
    catalog: list[IndexInfo], owner_columns: frozenset[tuple[str, str]]
) -> list[IndexInfo]:
    """Return the never-scanned indexes on an owner column: kept, never advised to drop."""
    return [
        index for index in never_scanned(catalog) if leads_with_owner_column(index, owner_columns)
    ]


def _is_covered(index: IndexInfo, other: IndexInfo) -> str | None:
    """Return "duplicate"/"prefix" when `other` makes `index` unnecessary, else None."""
    if other.name == index.name or not other.is_valid or other.method != index.method:
        return None
    if other.predicate != index.predicate or other.expressions != index.expressions:
        return None
    if index.is_unique and not (other.is_unique and other.key_signature == index.key_signature):
        return None  # a unique index enforces something a wider one does not
    if not set(index.include_columns) <= set(other.columns):
        return None  # its INCLUDE columns serve index-only scans the other cannot
    if other.key_signature == index.key_signature:
        return "duplicate"
    prefix = other.key_signature[: len(index.key_signature)]
    if index.method == "btree" and index.expressions is None and prefix == index.key_signature:
        return "prefix"
    return None


def redundant_indexes(catalog: list[IndexInfo]) -> list[Redundancy]:
    """Return duplicate indexes (same keys) and prefix-redundant ones (keys lead another's)."""
    by_table: dict[str, list[IndexInfo]] = defaultdict(list)
    for index in catalog:
        by_table[index.table].append(index)
    found = []
    for indexes in by_table.values():
        for index in indexes:
            if not index.is_valid or index.backs_constraint:
                continue  # dropping it would drop a constraint: never suggested
            covers = []
            for other in indexes:
                kind = _is_covered(index, other)
                if kind is None:
                    continue
                # Of two identical plain indexes, name one (the other one stays).
                twin = kind == "duplicate" and not other.backs_constraint
                if twin and other.is_unique == index.is_unique and other.name > index.name:
                    continue
                covers.append(Redundancy(index, other, kind))
            if covers:
                # An exact duplicate is the clearest reason; else the narrowest wider index.
                found.append(
                    min(covers, key=lambda r: (r.kind != "duplicate", len(r.covered_by.columns)))
                )
    return sorted(found, key=lambda r: (r.index.table, r.index.name))


def sequential_scan_tables(conn: Connection, schema: str, min_rows: int) -> list[dict[str, Any]]:
    """Return tables with at least `min_rows` rows where under 95 % of scans use an index."""
    rows = conn.execute(SEQUENTIAL_SCAN_TABLES_SQL, {"schema": schema, "min_rows": min_rows})
    return [dict(row) for row in rows.mappings()]


def invalid_indexes(catalog: list[IndexInfo]) -> list[IndexInfo]:
    """Return indexes left invalid (a failed CREATE INDEX CONCURRENTLY)."""
    return [index for index in catalog if not index.is_valid]


@dataclass
class IndexReport:
    """Everything the indexes page shows."""

    schema: str
    catalog: list[IndexInfo]
    unused: list[IndexInfo]
    owner_unused: list[IndexInfo]  # never scanned, but on an owner column: kept
    redundant: list[Redundancy]
    invalid: list[IndexInfo]
    sequential: list[dict[str, Any]]
    stats_reset: datetime | None
    table_rows: dict[str, float | None]
    min_rows: int
    suggestions: list[Any] = field(default_factory=list)
    suggestion_notice: str = ""

    @property
    def reclaimable_bytes(self) -> int:
        names = {index.name for index in self.unused} | {r.index.name for r in self.redundant}
        return sum(index.size_bytes for index in self.catalog if index.name in names)


def index_report(
    *,
    min_rows: int = 10_000,
    owner_columns: frozenset[tuple[str, str]] = frozenset(),
    timeout_ms: int | None = None,
) -> IndexReport:
    """Return unused, redundant and invalid indexes and sequential-scan-heavy tables.

    `owner_columns` are the (table, column) pairs that lead rows to their owner (the users
    table): an index on one is never listed as unused. Tables with fewer than `min_rows` rows
    are not listed for their sequential scans.
    """
    schema = target_schema()

    def work(conn: Connection) -> IndexReport:
        catalog = index_catalog(conn, schema)
        return IndexReport(
            schema=schema,
            catalog=catalog,
            unused=unused_indexes(catalog, owner_columns),
            owner_unused=unused_owner_indexes(catalog, owner_columns),
            redundant=redundant_indexes(catalog),
            invalid=invalid_indexes(catalog),
            sequential=sequential_scan_tables(conn, schema, min_rows),
            stats_reset=conn.execute(STATS_RESET_SQL).scalar(),
            table_rows=table_row_estimates(conn, schema),
            min_rows=min_rows,
        )

    return run_read(work, timeout_ms=timeout_ms)
