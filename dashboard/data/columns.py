"""What a reflected column holds: its kind, CHECK-constraint choices, typed input and display.

Every column of a browsed table is described once by a `ColumnInfo` (plain data the templates
read). `parse_value` turns operator input (a filter field, a primary key in a URL) into a
Python value of the column's type, or raises `BadValue` with a sentence for the form.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pglast
import sqlalchemy as sa
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from pglast import ast
from pglast.enums import A_Expr_Kind
from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql

INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1
TEXT_INPUT_MAX = 1000
PREVIEW_CHARS = 120  # characters of a value shown in a list cell
FOLD_CHARS = 300  # longer text is folded in a <details> on the row page

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


class BadValue(ValueError):
    """Operator input that does not fit the column; the message is the sentence to show."""


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
    expr = statement.whereClause  # type: ignore[attr-defined]
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
    if not isinstance(last, ast.String):
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


def describe_columns(table: Table, masked: set[str]) -> dict[str, ColumnInfo]:
    """Return a ColumnInfo per column of `table`, in table order."""
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


# -- operator input ----------------------------------------------------------------------------
TRUE_WORDS = {"true", "t", "1", "yes", "y", "on"}
FALSE_WORDS = {"false", "f", "0", "no", "n", "off"}


@dataclass(frozen=True)
class Parsed:
    """A parsed input value; `whole_day` is set when a timestamp was given as a bare date."""

    value: Any
    whole_day: bool = False


def parse_value(info: ColumnInfo, raw: str) -> Parsed:
    """Return `raw` as a value of the column's type, or raise BadValue with a sentence."""
    text = raw.strip()
    if "\x00" in raw:
        raise BadValue("The value may not contain NUL characters.")
    if info.choices and info.kind in ("enum", "text"):
        if raw not in info.choices:
            raise BadValue(f"Choose one of: {', '.join(info.choices)}.")
        return Parsed(raw)
    parser = _PARSERS.get(info.kind)
    if parser is None:
        raise BadValue(f"Values of type {info.type_label} cannot be entered here.")
    if not text and info.kind != "text":
        raise BadValue("Enter a value.")
    return parser(info, raw if info.kind == "text" else text)


def _integer(info: ColumnInfo, text: str) -> Parsed:
    try:
        value = int(text.replace("_", ""), 10)
    except ValueError:
        raise BadValue("Enter a whole number, like 42.") from None
    if not INT8_MIN <= value <= INT8_MAX:
        raise BadValue("That number is too large for this column.")
    return Parsed(value)


def _number(info: ColumnInfo, text: str) -> Parsed:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue("Enter a number, like 3.14.") from None
    if not value.is_finite():
        raise BadValue("Enter a finite number, like 3.14.")
    if "double" in info.type_label or "real" in info.type_label or "float" in info.type_label:
        return Parsed(float(value))
    return Parsed(value)


def _text(info: ColumnInfo, text: str) -> Parsed:
    if len(text) > TEXT_INPUT_MAX:
        raise BadValue(f"Enter at most {TEXT_INPUT_MAX} characters.")
    return Parsed(text)


def _boolean(info: ColumnInfo, text: str) -> Parsed:
    word = text.lower()
    if word in TRUE_WORDS:
        return Parsed(True)
    if word in FALSE_WORDS:
        return Parsed(False)
    raise BadValue("Choose true or false.")


def _date(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(date.fromisoformat(text))
    except ValueError:
        raise BadValue("Enter a date as YYYY-MM-DD, like 2025-01-31.") from None


def _timestamp(info: ColumnInfo, text: str) -> Parsed:
    whole_day = len(text) == 10
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        zone = timezone.get_current_timezone_name() if info.timezone else "no time zone"
        raise BadValue(
            f"Enter a date, or a date and time, like 2025-01-31 or 2025-01-31 14:30 ({zone})."
        ) from None
    if info.timezone and timezone.is_naive(value):
        value = timezone.make_aware(value)
    elif not info.timezone and timezone.is_aware(value):
        value = value.replace(tzinfo=None)
    return Parsed(value, whole_day=whole_day)


def _time(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(time.fromisoformat(text))
    except ValueError:
        raise BadValue("Enter a time as HH:MM or HH:MM:SS, like 14:30.") from None


def _uuid(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(uuid.UUID(text))
    except ValueError:
        raise BadValue("Enter a UUID, like 123e4567-e89b-12d3-a456-426614174000.") from None


_PARSERS = {
    "integer": _integer,
    "number": _number,
    "text": _text,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
    "uuid": _uuid,
}


def to_text(value: Any) -> str:
    """Return a value as the text an operator would type back (URLs, CSV cells)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _interval_text(value)
    if isinstance(value, bytes | memoryview | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, list | tuple):
        if any(isinstance(item, dict | list) for item in value):
            return json.dumps(value, ensure_ascii=False, default=str)
        return "{" + ", ".join(to_text(item) for item in value) + "}"
    return str(value)


def _interval_text(value: timedelta) -> str:
    days, seconds = value.days, value.seconds
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if value.microseconds:
        clock += f".{value.microseconds:06d}"
    return f"{days} days {clock}" if days else clock


# -- display -----------------------------------------------------------------------------------
MASK = "••••••••"


@dataclass
class Cell:
    """One value as a page shows it: text, or a flag for NULL / masked, plus an optional link."""

    text: str = ""
    null: bool = False
    masked: bool = False
    numeric: bool = False
    truncated: bool = False
    href: str = ""
    kind: str = "text"
    # Row page only: pretty JSON, list items, or a long text folded in a <details>.
    pretty: str = ""
    items: list[str] = field(default_factory=list)
    folded: bool = False
    size: int | None = None


MASKED_HTML = {
    False: f'<span class="masked" title="Masked: the column name looks secret">{MASK}</span>',
    True: '<span class="masked" title="Masked: the column name looks secret">NULL</span>',
}
NULL_HTML = '<span class="null">NULL</span>'


def cell_html(cell: Cell) -> str:
    """Return the inner HTML of a list cell, escaped (a list renders hundreds of cells, so
    this is plain Python rather than a template include: 10x faster)."""
    if cell.masked:
        return MASKED_HTML[cell.null]
    if cell.null:
        return NULL_HTML
    text = html.escape(cell.text)
    if cell.href:
        return f'<a href="{html.escape(cell.href)}">{text}</a>'
    if cell.kind == "boolean":
        return f'<span class="bool {text}">{text}</span>'
    return text


def row_html(cells: list[Cell]) -> SafeString:
    """Return the <td> elements of one list row."""
    parts = []
    for cell in cells:
        classes = cell.kind + (" num" if cell.numeric else "")  # kinds are fixed words
        parts.append(f'<td class="{classes}">{cell_html(cell)}</td>')
    return mark_safe("".join(parts))  # noqa: S308  (every value escaped by cell_html)


def byte_count(size: int) -> str:
    """Return '1 byte' / '2,048 bytes'."""
    return "1 byte" if size == 1 else f"{size:,} bytes"


def list_cell(info: ColumnInfo, value: Any) -> Cell:
    """Return the cell of a list page for a value selected as a preview (see query.py)."""
    if info.masked:
        # The list selects `column IS NULL` for a masked column, never its value.
        return Cell(masked=True, null=bool(value), kind=info.kind)
    if value is None:
        return Cell(null=True, numeric=info.numeric, kind=info.kind)
    if info.kind == "bytes":
        return Cell(text=byte_count(int(value)), kind="bytes", size=int(value))
    text = to_text(value)
    truncated = len(text) > PREVIEW_CHARS
    if truncated:
        text = text[:PREVIEW_CHARS].rstrip() + "…"
    return Cell(text=text, numeric=info.numeric, truncated=truncated, kind=info.kind)


def full_cell(info: ColumnInfo, value: Any) -> Cell:
    """Return the cell of a row page: every value in full, shaped for reading."""
    if info.masked:
        return Cell(masked=True, null=value is None, kind=info.kind)
    if value is None:
        return Cell(null=True, kind=info.kind)
    if info.kind == "bytes":  # the row page selects octet_length(), never the bytes
        return Cell(text=byte_count(int(value)), kind="bytes", size=int(value))
    if info.kind == "json":
        parsed = json.loads(value) if isinstance(value, str) else value
        return Cell(
            pretty=json.dumps(parsed, indent=2, ensure_ascii=False, sort_keys=True, default=str),
            kind="json",
        )
    if info.kind == "array" and isinstance(value, list | tuple):
        return Cell(items=[to_text(item) for item in value], kind="array")
    text = to_text(value)
    folded = len(text) > FOLD_CHARS or text.count("\n") > 3
    return Cell(text=text, numeric=info.numeric, folded=folded, kind=info.kind)
