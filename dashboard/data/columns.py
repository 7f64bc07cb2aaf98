"""What a reflected column holds: its kind, CHECK-constraint choices, type label and links.

Every column of a browsed table is described once by a `ColumnInfo` (plain data the templates
read); typed input is parsed in column_input.py, values are shown by cells.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pglast
import sqlalchemy as sa
from pglast import ast
from pglast.enums import A_Expr_Kind
from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql

# Kinds a column's values can have; filters, sorting and display depend on the kind.
KINDS = (
    "integer",
    "number",
    "text",
    "boolean",
    "date",
    "timestamp",
    "time",
    "interval",
    "uuid",
    "enum",
    "json",
    "array",
    "bytes",
    "other",
)
SORTABLE_KINDS = {
    "integer",
    "number",
    "text",
    "boolean",
    "date",
    "timestamp",
    "time",
    "interval",
    "uuid",
    "enum",
}
NUMERIC_KINDS = {"integer", "number"}
# Characters a typical value of a kind takes in a list (text: its declared length, capped).
KIND_WIDTHS = {
    "integer": 8,
    "number": 10,
    "boolean": 6,
    "date": 10,
    "timestamp": 25,
    "time": 8,
    "interval": 12,
    "uuid": 36,
    "json": 32,
    "array": 20,
    "bytes": 10,
    "other": 20,
}
TEXT_WIDTH = 32  # unbounded text, or the cap of a long varchar


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a browsed table, as the pages and the query object need it."""

    name: str
    kind: str
    type_label: str
    nullable: bool
    primary_key: bool
    choices: tuple[str, ...] = ()
    masked: bool = False
    timezone: bool = False
    comment: str = ""
    foreign_table: str = ""  # set when this column alone is a foreign key
    foreign_column: str = ""

    @property
    def sortable(self) -> bool:
        """Return True when ORDER BY this column is meaningful and allowed."""
        return self.kind in SORTABLE_KINDS and not self.masked

    @property
    def searchable(self) -> bool:
        """Return True when the free-text search may look into this column."""
        return self.kind == "text" and not self.masked

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def width(self) -> int:
        """Return about how many characters this column takes in a list (for the default
        choice of columns that fit the screen)."""
        if self.choices:
            value = max(len(choice) for choice in self.choices)
        elif self.kind in ("text", "enum"):
            declared = re.search(r"\((\d+)\)", self.type_label)
            value = min(int(declared.group(1)), TEXT_WIDTH) if declared else TEXT_WIDTH
        else:
            value = KIND_WIDTHS.get(self.kind, TEXT_WIDTH)
        return max(value, len(self.name)) + 2  # padding


def column_kind(column: Column) -> str:
    """Return the kind of values `column` holds (one of KINDS)."""
    type_ = column.type
    # Order matters: Enum is a String, JSONB is a JSON, and so on.
    checks: Sequence[tuple[type | tuple[type, ...], str]] = (
        (sa.Boolean, "boolean"),
        (sa.Enum, "enum"),
        (sa.ARRAY, "array"),
        (sa.JSON, "json"),
        (sa.Integer, "integer"),
        ((sa.Numeric, sa.Float), "number"),
        (sa.String, "text"),
        (sa.DateTime, "timestamp"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        ((sa.Interval, postgresql.INTERVAL), "interval"),
        (sa.Uuid, "uuid"),
        (sa.LargeBinary, "bytes"),
    )
    for classes, kind in checks:
        if isinstance(type_, classes):
            return kind
    return "other"


def type_label(column: Column) -> str:
    """Return the column's SQL type as Postgres would print it, in lower case."""
    try:
        label = str(column.type.compile(dialect=postgresql.dialect()))
    except Exception:  # NullType and friends: a type SQLAlchemy does not know
        return "unknown"
    return (
        label.lower()
        .replace("timestamp with time zone", "timestamptz")
        .replace("timestamp without time zone", "timestamp")
    )


@lru_cache(maxsize=512)
def choices_from_check(sqltext: str) -> tuple[str, tuple[str, ...]] | None:
    """Return (column, values) when a CHECK is `col IN (...)` or `col = ANY (ARRAY[...])`."""
    try:
        statement = pglast.parse_sql(f"SELECT 1 WHERE {sqltext}")[0].stmt
    except pglast.parser.ParseError:
        return None
    if not isinstance(statement, ast.SelectStmt):
        return None
    expr = statement.whereClause
    if not isinstance(expr, ast.A_Expr) or expr.kind not in (
        A_Expr_Kind.AEXPR_IN,
        A_Expr_Kind.AEXPR_OP_ANY,
    ):
        return None
    if [name.sval for name in expr.name or ()] != ["="]:
        return None
    column = _unwrap(expr.lexpr)
    if not isinstance(column, ast.ColumnRef) or not column.fields:
        return None
    last = column.fields[-1]
    if not isinstance(last, ast.String) or not last.sval:
        return None
    items = _unwrap(expr.rexpr)
    if isinstance(items, ast.A_ArrayExpr):
        items = items.elements
    if not isinstance(items, tuple | list):
        return None
    values = []
    for item in items:
        const = _unwrap(item)
        if not isinstance(const, ast.A_Const) or const.isnull:
            return None
        value = const.val
        raw = getattr(value, "sval", None)
        if raw is None:
            raw = getattr(value, "ival", None)
        if raw is None:
            raw = getattr(value, "fval", None)
        if raw is None:
            return None
        values.append(str(raw))
    return last.sval, tuple(values)


def _unwrap(node: Any) -> Any:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


def check_choices(table: Table) -> dict[str, tuple[str, ...]]:
    """Return the allowed values per column, read from simple CHECK (col IN (...)) constraints."""
    found: dict[str, tuple[str, ...]] = {}
    for constraint in table.constraints:
        if not isinstance(constraint, sa.CheckConstraint):
            continue
        parsed = choices_from_check(str(constraint.sqltext))
        if parsed and parsed[0] in table.c:
            found[parsed[0]] = parsed[1]
    return found


DESCRIBED = "schemadesk.described_columns"  # key of `Table.info`: the descriptions made


def describe_columns(table: Table, masked: set[str]) -> dict[str, ColumnInfo]:
    """Return a ColumnInfo per column of `table`, in table order.

    Worked out once per reflected table and set of masked columns, kept in the table's `info`
    (a schema change reflects new Table objects, so nothing outlives the columns it describes);
    every list page describes its table's columns."""
    made: dict[frozenset[str], dict[str, ColumnInfo]] = table.info.setdefault(DESCRIBED, {})
    key = frozenset(masked)
    infos = made.get(key)
    if infos is None:
        infos = made[key] = _described(table, key)
    return dict(infos)


def _described(table: Table, masked: frozenset[str]) -> dict[str, ColumnInfo]:
    choices = check_choices(table)
    single_fks: dict[str, tuple[str, str]] = {}
    for fk in table.foreign_key_constraints:
        if len(fk.elements) != 1:
            continue
        try:
            target = fk.elements[0].column
        except sa.exc.NoReferencedTableError:
            continue  # points outside the reflected schema: no link
        if target.table.schema == table.schema:
            single_fks[fk.elements[0].parent.name] = (target.table.name, target.name)
    infos: dict[str, ColumnInfo] = {}
    for column in table.columns:
        kind = column_kind(column)
        enum_values = tuple(getattr(column.type, "enums", ()) or ()) if kind == "enum" else ()
        foreign = single_fks.get(column.name, ("", ""))
        infos[column.name] = ColumnInfo(
            name=column.name,
            kind=kind,
            type_label=type_label(column),
            nullable=bool(column.nullable),
            primary_key=bool(column.primary_key),
            choices=enum_values or choices.get(column.name, ()),
            masked=column.name in masked,
            timezone=bool(getattr(column.type, "timezone", False)),
            comment=column.comment or "",
            foreign_table=foreign[0],
            foreign_column=foreign[1],
        )
    return infos
