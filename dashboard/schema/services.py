"""What the Schema pages show: the table list, one table's page, and ER diagrams.

Each page is made of parts read in separate read-only transactions, so that a part which times
out (typically the sizes, which wait behind a table's exclusive lock) becomes a sentence in that
part while the rest of the page still renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.conf import settings
from sqlalchemy import Connection

from dashboard.schema import catalog
from dashboard.schema.drift import DriftReport, drift_report
from dashboard.schema.erd import Diagram, DiagramColumn, DiagramEdge, DiagramTable
from dashboard.schema.reflection import UnknownTable
from dashboard.target import TargetError, run_read, target_schema

logger = logging.getLogger(__name__)
T = TypeVar("T")

SORTS = ("name", "rows", "size")
# Sizes and definitions wait behind a table's ACCESS EXCLUSIVE lock (a running ALTER TABLE):
# worth a short wait, not the page's whole lock timeout.
PART_LOCK_TIMEOUT_MS = 500
TABLE_LIST_LIMIT = 1000
SEARCH_MAX_LENGTH = 200


@dataclass(frozen=True)
class Part(Generic[T]):
    """One part of a page: its value, or the sentence saying why it could not be read."""

    value: T | None = None
    error: str = ""


def read_part(
    work: Callable[[Connection], T], what: str, lock_timeout_ms: int | None = None
) -> Part[T]:
    """Return Part(work(conn)) from its own read-only transaction, or Part(error=sentence)."""
    try:
        return Part(run_read(work, lock_timeout_ms=lock_timeout_ms))
    except TargetError as exc:
        logger.warning("schema: %s could not be read: %s", what, exc.detail)
        return Part(error=exc.sentence)


def part_lock_timeout_ms() -> int:
    """Return how long a part that takes table locks (sizes, definitions) waits for them."""
    return min(PART_LOCK_TIMEOUT_MS, int(settings.TARGET["LOCK_TIMEOUT_MS"]))


def locking_part(work: Callable[[Connection], T], what: str) -> Part[T]:
    """Return a part that may wait behind a table lock: it waits briefly, not the page's time."""
    return read_part(work, what, lock_timeout_ms=part_lock_timeout_ms())


# ---- the table list -------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One table of the list; sizes are None when they could not be read."""

    name: str
    estimated_rows: int
    rls_enabled: bool
    rls_forced: bool
    comment: str | None
    column_count: int
    is_partitioned: bool
    is_partition: bool
    total_bytes: int | None = None
    index_bytes: int | None = None

    @property
    def rows_known(self) -> bool:
        return self.estimated_rows >= 0


@dataclass(frozen=True)
class TableList:
    """The tables matching `search`, sorted by `sort`, at most TABLE_LIST_LIMIT of them."""

    schema: str
    search: str
    sort: str
    tables: list[TableRow]
    matched: int
    sizes_error: str = ""

    @property
    def truncated(self) -> bool:
        return self.matched > len(self.tables)


def _sort_key(sort: str) -> Callable[[TableRow], tuple]:
    if sort == "rows":
        return lambda row: (-row.estimated_rows, row.name)
    if sort == "size":
        return lambda row: (-(row.total_bytes if row.total_bytes is not None else -1), row.name)
    return lambda row: (row.name,)


def table_list(search: str = "", sort: str = "name") -> TableList:
    """Return the schema's tables whose name or comment contains `search`, sorted."""
    schema = target_schema()
    search = search.strip()[:SEARCH_MAX_LENGTH]
    sort = sort if sort in SORTS else "name"
    found = run_read(lambda conn: catalog.tables(conn, schema, search))
    names = [str(row["name"]) for row in found]
    sizes = locking_part(lambda conn: catalog.table_sizes(conn, schema, names), "table sizes")
    by_name = sizes.value or {}
    rows = [
        TableRow(
            **row,
            total_bytes=by_name.get(str(row["name"]), {}).get("total_bytes"),  # type: ignore[arg-type]
            index_bytes=by_name.get(str(row["name"]), {}).get("index_bytes"),  # type: ignore[arg-type]
        )
        for row in found
    ]
    rows.sort(key=_sort_key(sort))
    return TableList(
        schema=schema,
        search=search,
        sort=sort,
        tables=rows[:TABLE_LIST_LIMIT],
        matched=len(rows),
        sizes_error=sizes.error,
    )


@dataclass(frozen=True)
class SchemaOverview:
    """The Schema index page: the table list and how the database compares with the models."""

    listing: TableList
    drift: Part[DriftReport]


def drift_part() -> Part[DriftReport]:
    """Return the drift report, or the sentence saying why the database could not be compared."""
    try:
        return Part(drift_report(lock_timeout_ms=part_lock_timeout_ms()))
    except TargetError as exc:
        logger.warning("schema: drift comparison failed: %s", exc.detail)
        return Part(error=exc.sentence)


def schema_overview(search: str = "", sort: str = "name") -> SchemaOverview:
    """Return the table list (filtered and sorted) and the drift report."""
    return SchemaOverview(listing=table_list(search, sort), drift=drift_part())


# ---- one table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableFacts:
    """Estimated rows, RLS flags, owner, comment and activity counters of one table."""

    name: str
    is_partitioned: bool
    is_partition: bool
    partition_of: str | None
    estimated_rows: int
    rls_enabled: bool
    rls_forced: bool
    owner: str
    comment: str | None
    sequential_scans: int | None
    index_scans: int | None
    live_rows: int | None
    dead_rows: int | None
    last_vacuum: datetime | None
    last_analyze: datetime | None

    @property
    def rows_known(self) -> bool:
        return self.estimated_rows >= 0


@dataclass(frozen=True)
class TableSize:
    """Sizes in bytes: everything, the heap with TOAST, the indexes, and each index by name."""

    total_bytes: int
    table_bytes: int
    index_bytes: int
    by_index: dict[str, int]


@dataclass(frozen=True)
class Definitions:
    """Texts Postgres renders from its catalog (rendering waits behind a table's locks)."""

    column_expressions: dict[str, str]
    constraints: dict[str, str]
    indexes: dict[str, str]
    triggers: dict[str, str]
    policies: dict[str, tuple[str | None, str | None]]


NO_DEFINITIONS = Definitions({}, {}, {}, {}, {})


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a table; `default`/`generated` are None when unknown or absent."""

    position: int
    name: str
    type: str
    type_kind: str
    enum_labels: list[str] | None
    nullable: bool
    has_default: bool
    is_generated: bool
    identity: str | None
    comment: str | None
    in_primary_key: bool
    in_foreign_key: bool
    default: str | None = None
    generated: str | None = None


@dataclass(frozen=True)
class ConstraintInfo:
    """A primary key, unique, exclusion or check constraint."""

    name: str
    kind: str
    columns: list[str]
    validated: bool
    deferrable: bool
    definition: str | None = None


@dataclass(frozen=True)
class ForeignKeyInfo:
    """A foreign key seen from one table: `columns` here, `other_*` on the other side."""

    name: str
    columns: list[str]
    other_schema: str
    other_table: str
    other_columns: list[str]
    on_delete: str
    on_update: str
    validated: bool
    other_is_here: bool = True  # the other table is in the target schema (it has a page)


@dataclass(frozen=True)
class Keys:
    """A table's constraints, grouped as the page shows them."""

    primary_key: ConstraintInfo | None
    unique: list[ConstraintInfo]
    checks: list[ConstraintInfo]
    exclusions: list[ConstraintInfo]
    outgoing: list[ForeignKeyInfo]
    incoming: list[ForeignKeyInfo]


@dataclass(frozen=True)
class IndexInfo:
    """One index: how often it was scanned, its flags, and (when readable) definition, size."""

    name: str
    scans: int | None
    valid: bool
    is_unique: bool
    is_primary: bool
    constraint_name: str | None
    definition: str | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class TriggerInfo:
    """One user-defined trigger."""

    name: str
    state: str
    function: str
    definition: str | None = None


@dataclass(frozen=True)
class PolicyInfo:
    """One row-level security policy."""

    name: str
    permissive: bool
    command: str
    roles: list[str]
    using_expression: str | None = None
    check_expression: str | None = None


@dataclass(frozen=True)
class TableDetail:
    """Everything the table page shows, part by part.

    `size` and `definitions` are the parts that wait behind a lock on the table; when they
    fail, the other parts still carry their structure with sizes and definitions left None.
    """

    name: str
    schema: str
    facts: Part[TableFacts]
    size: Part[TableSize]
    definitions: Part[Definitions]
    columns: Part[list[ColumnInfo]]
    keys: Part[Keys]
    indexes: Part[list[IndexInfo]]
    triggers: Part[list[TriggerInfo]]
    policies: Part[list[PolicyInfo]]
    diagram: Part[Diagram]


def unknown_table(name: str, schema: str) -> UnknownTable:
    """Return the 404 raised for a table that is not in the target schema."""
    return UnknownTable(f"There is no table called “{name}” in schema “{schema}”.")


def _size(conn: Connection, oid: int) -> TableSize:
    return TableSize(**catalog.table_size(conn, oid), by_index=catalog.index_sizes(conn, oid))  # type: ignore[arg-type]


def _definitions(conn: Connection, oid: int) -> Definitions:
    return Definitions(
        column_expressions=catalog.column_expressions(conn, oid),
        constraints=catalog.constraint_definitions(conn, oid),
        indexes=catalog.index_definitions(conn, oid),
        triggers=catalog.trigger_definitions(conn, oid),
        policies=catalog.policy_expressions(conn, oid),
    )


def _columns(conn: Connection, oid: int, found: Definitions) -> list[ColumnInfo]:
    result = []
    for row in catalog.columns(conn, oid):
        expression = found.column_expressions.get(str(row["name"]))
        generated = bool(row["is_generated"])
        result.append(
            ColumnInfo(
                **row,  # type: ignore[arg-type]
                default=None if generated else expression,
                generated=expression if generated else None,
            )
        )
    return result


def _keys(conn: Connection, oid: int, schema: str, found: Definitions) -> Keys:
    constraints = [
        ConstraintInfo(**row, definition=found.constraints.get(str(row["name"])))  # type: ignore[arg-type]
        for row in catalog.constraints(conn, oid)
    ]

    def foreign(rows: list[dict[str, object]]) -> list[ForeignKeyInfo]:
        return [ForeignKeyInfo(**row, other_is_here=row["other_schema"] == schema) for row in rows]  # type: ignore[arg-type]

    return Keys(
        primary_key=next((c for c in constraints if c.kind == "primary key"), None),
        unique=[c for c in constraints if c.kind == "unique"],
        checks=[c for c in constraints if c.kind == "check"],
        exclusions=[c for c in constraints if c.kind == "exclusion"],
        outgoing=foreign(catalog.outgoing_foreign_keys(conn, oid)),
        incoming=foreign(catalog.incoming_foreign_keys(conn, oid)),
    )


def _indexes(
    conn: Connection, oid: int, found: Definitions, sizes: dict[str, int]
) -> list[IndexInfo]:
    return [
        IndexInfo(
            **row,  # type: ignore[arg-type]
            definition=found.indexes.get(str(row["name"])),
            bytes=sizes.get(str(row["name"])),
        )
        for row in catalog.indexes(conn, oid)
    ]


def _triggers(conn: Connection, oid: int, found: Definitions) -> list[TriggerInfo]:
    return [
        TriggerInfo(**row, definition=found.triggers.get(str(row["name"])))  # type: ignore[arg-type]
        for row in catalog.triggers(conn, oid)
    ]


def _policies(conn: Connection, oid: int, found: Definitions) -> list[PolicyInfo]:
    result = []
    for row in catalog.policies(conn, oid):
        using, check = found.policies.get(str(row["name"]), (None, None))
        result.append(PolicyInfo(**row, using_expression=using, check_expression=check))  # type: ignore[arg-type]
    return result


def table_detail(name: str) -> TableDetail:
    """Return one table's page: facts, sizes, columns, keys, indexes, triggers, policies..."""
    schema = target_schema()
    oid = run_read(lambda conn: catalog.table_oid(conn, schema, name))
    if oid is None:
        raise unknown_table(name, schema)
    size = locking_part(lambda c: _size(c, oid), "sizes")
    definitions = locking_part(lambda c: _definitions(c, oid), "definitions")
    found = definitions.value or NO_DEFINITIONS
    index_bytes = size.value.by_index if size.value else {}
    return TableDetail(
        name=name,
        schema=schema,
        facts=read_part(lambda c: TableFacts(**catalog.table_facts(c, oid)), "facts"),  # type: ignore[arg-type]
        size=size,
        definitions=definitions,
        columns=read_part(lambda c: _columns(c, oid, found), "columns"),
        keys=read_part(lambda c: _keys(c, oid, schema, found), "keys"),
        indexes=read_part(lambda c: _indexes(c, oid, found, index_bytes), "indexes"),
        triggers=read_part(lambda c: _triggers(c, oid, found), "triggers"),
        policies=read_part(lambda c: _policies(c, oid, found), "policies"),
        diagram=read_part(lambda c: _neighbourhood(c, schema, name), "diagram"),
    )


# ---- diagrams -------------------------------------------------------------------------------


def _diagram(
    schema: str,
    column_rows: list[dict[str, object]],
    edge_rows: list[dict[str, object]],
    focus: str | None = None,
) -> Diagram:
    columns: dict[str, list[DiagramColumn]] = {}
    for row in column_rows:
        columns.setdefault(str(row["table_name"]), []).append(
            DiagramColumn(
                name=str(row["column_name"]),
                type=str(row["type"]),
                primary_key=bool(row["in_primary_key"]),
                foreign_key=bool(row["in_foreign_key"]),
            )
        )
    edges = tuple(
        DiagramEdge(
            name=str(row["name"]),
            source=str(row["source"]),
            source_columns=tuple(row["source_columns"]),  # type: ignore[arg-type]
            target=str(row["target"]),
            target_columns=tuple(row["target_columns"]),  # type: ignore[arg-type]
        )
        for row in edge_rows
        if row["source"] in columns and row["target"] in columns
    )
    tables = tuple(DiagramTable(name, tuple(cols)) for name, cols in sorted(columns.items()))
    return Diagram(schema=schema, tables=tables, edges=edges, focus=focus)


def _neighbourhood(conn: Connection, schema: str, name: str) -> Diagram:
    every_edge = catalog.diagram_foreign_keys(conn, schema)
    touching = [row for row in every_edge if name in (row["source"], row["target"])]
    names = {name} | {str(r["source"]) for r in touching} | {str(r["target"]) for r in touching}
    # Keys between two neighbours are drawn too: they explain how the neighbours relate.
    edges = [row for row in every_edge if row["source"] in names and row["target"] in names]
    column_rows = catalog.diagram_columns(conn, schema, sorted(names))
    return _diagram(schema, column_rows, edges, focus=name)


def schema_diagram() -> Diagram:
    """Return the diagram of every table of the target schema and their foreign keys."""
    schema = target_schema()

    def read(conn: Connection) -> Diagram:
        edges = catalog.diagram_foreign_keys(conn, schema)
        return _diagram(schema, catalog.diagram_columns(conn, schema), edges)

    return run_read(read)


def neighbourhood_diagram(name: str) -> Diagram:
    """Return the diagram of one table with the tables it references and that reference it."""
    schema = target_schema()

    def read(conn: Connection) -> Diagram:
        if catalog.table_oid(conn, schema, name) is None:
            raise unknown_table(name, schema)
        return _neighbourhood(conn, schema, name)

    return run_read(read)
