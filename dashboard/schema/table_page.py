"""One table's page: facts, sizes, columns, keys, indexes, triggers, policies, diagram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dashboard.schema import catalog
from dashboard.schema.diagrams import _neighbourhood
from dashboard.schema.erd_model import Diagram
from dashboard.schema.page_parts import Part, locking_part, read_part, unknown_table
from dashboard.target import run_read, target_schema


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


def _size(conn: Connection, oid: int) -> TableSize:
    return TableSize(**catalog.table_size(conn, oid), by_index=catalog.index_sizes(conn, oid))


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
                **row,
                default=None if generated else expression,
                generated=expression if generated else None,
            )
        )
    return result


def _keys(conn: Connection, oid: int, schema: str, found: Definitions) -> Keys:
    constraints = [
        ConstraintInfo(**row, definition=found.constraints.get(str(row["name"])))
        for row in catalog.constraints(conn, oid)
    ]

    def foreign(rows: list[dict[str, Any]]) -> list[ForeignKeyInfo]:
        return [ForeignKeyInfo(**row, other_is_here=row["other_schema"] == schema) for row in rows]

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
            **row,
            definition=found.indexes.get(str(row["name"])),
            bytes=sizes.get(str(row["name"])),
        )
        for row in catalog.indexes(conn, oid)
    ]


def _triggers(conn: Connection, oid: int, found: Definitions) -> list[TriggerInfo]:
    return [
        TriggerInfo(**row, definition=found.triggers.get(str(row["name"])))
        for row in catalog.triggers(conn, oid)
    ]


def _policies(conn: Connection, oid: int, found: Definitions) -> list[PolicyInfo]:
    result = []
    for row in catalog.policies(conn, oid):
        using, check = found.policies.get(str(row["name"]), (None, None))
        result.append(PolicyInfo(**row, using_expression=using, check_expression=check))
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
        facts=read_part(lambda c: TableFacts(**catalog.table_facts(c, oid)), "facts"),
        size=size,
        definitions=definitions,
        columns=read_part(lambda c: _columns(c, oid, found), "columns"),
        keys=read_part(lambda c: _keys(c, oid, schema, found), "keys"),
        indexes=read_part(lambda c: _indexes(c, oid, found, index_bytes), "indexes"),
        triggers=read_part(lambda c: _triggers(c, oid, found), "triggers"),
        policies=read_part(lambda c: _policies(c, oid, found), "policies"),
        diagram=read_part(lambda c: _neighbourhood(c, schema, name), "diagram"),
    )
