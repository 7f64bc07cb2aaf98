"""The fields of a row change: typed inputs from the reflected columns, and their validation.

Each column becomes an input of its kind (numbers, true/false, dates and times, a choice for
enums and `CHECK (col IN (...))`, text, JSON and arrays as text). What the operator types is
checked three times, each answer shown on its field: parsed for the column's type here; then
by the application's SQLModel model of the table when `SCHEMA_MODELS` has one (`model_validate`,
so lengths, types and the model's own validators apply); then by the database when the change
runs (CHECK, NOT NULL, unique and foreign-key violations name a constraint or a column, which
`database_errors` puts back on its field). Values travel to the write door as PostgreSQL text.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from django.conf import settings
from django.http import QueryDict
from sqlalchemy import Table
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from dashboard.data.cells import to_text
from dashboard.data.column_input import BadValue, parse_value
from dashboard.data.columns import ColumnInfo, describe_columns
from dashboard.params import has_nul
from dashboard.row_text import masked_names
from dashboard.write_plan import WriteError

TEXT_MAX = 100_000
TYPED_KINDS = {"integer", "number", "boolean", "date", "timestamp", "time", "uuid"}
LONG_TEXT = 200  # longer values (or values with line breaks) get a text area
UNSET = object()  # an added row's column left to its default


@dataclass
class Field:
    """One column as the change form shows it."""

    info: ColumnInfo
    value: str | None  # PostgreSQL text; None is NULL
    editable: bool = True
    has_default: bool = False
    use_default: bool = False  # an added row: leave this column to its default
    error: str = ""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def input(self) -> str:
        """Return the input to draw: select, number, date, text, textarea."""
        if self.info.choices or self.info.kind == "boolean":
            return "select"
        if self.info.kind in ("integer", "number"):
            return "number"
        if self.info.kind == "date":
            return "date"
        if self.info.kind in ("json", "array") or (
            self.value is not None and (len(self.value) > LONG_TEXT or "\n" in self.value)
        ):
            return "textarea"
        return "text"

    @property
    def options(self) -> list[str]:
        if self.info.kind == "boolean":
            return ["true", "false"]
        return list(self.info.choices)

    @property
    def hint(self) -> str:
        hints = {
            "timestamp": "YYYY-MM-DD HH:MM[:SS][+00:00]",
            "time": "HH:MM[:SS]",
            "uuid": "a UUID",
            "json": "JSON",
            "array": "a PostgreSQL array, e.g. {home,urgent}",
            "interval": "e.g. 1 day 02:00:00",
        }
        return hints.get(self.info.kind, "")


def form_fields(
    table: Table,
    values: dict[str, str | None] | None,
    *,
    adding: bool = False,
    fixed: set[str] | None = None,
) -> list[Field]:
    """Return the fields of a change of `table`: current values (an edit) or defaults (an
    add); `fixed` columns are shown but not editable."""
    infos = describe_columns(table, masked_names(table))
    key = {column.name for column in table.primary_key.columns}
    fields = []
    for column in table.columns:
        info = infos[column.name]
        generated = column.computed is not None
        has_default = column.server_default is not None or column.identity is not None or generated
        editable = (
            not generated
            and not info.masked
            and (adding or column.name not in key)
            and column.name not in (fixed or set())
        )
        value = values.get(column.name) if values else None
        fields.append(
            Field(
                info,
                value,
                editable=editable,
                has_default=has_default,
                use_default=adding and has_default,
            )
        )
    return fields


KNOWN_LATER = object()  # a value only the database can check (arrays, intervals, ...)


def parse_input(info: ColumnInfo, raw: str) -> tuple[str, Any]:
    """Return (PostgreSQL text, Python value, or KNOWN_LATER) of one input, or BadValue."""
    if has_nul(raw):
        raise BadValue("The value may not contain NUL characters.")
    if info.choices or info.kind in TYPED_KINDS:
        parsed = parse_value(info, raw).value
        return to_text(parsed), parsed
    if len(raw) > TEXT_MAX:
        raise BadValue(f"Enter at most {TEXT_MAX:,} characters.")
    if info.kind == "text":
        return raw, raw
    if info.kind == "json":
        try:
            return raw.strip(), json.loads(raw)
        except ValueError:
            raise BadValue('Enter valid JSON, like {"a": 1}.') from None
    if not raw.strip():
        raise BadValue("Enter a value.")
    return raw.strip(), KNOWN_LATER  # arrays, intervals, other types: the database checks them


@dataclass
class Submitted:
    """A change form as posted: PostgreSQL text per column, Python values, field errors."""

    values: dict[str, Any]  # column -> text, None (NULL) or UNSET (an added row's default)
    python: dict[str, Any]
    errors: dict[str, str]


def read_form(
    fields: list[Field], data: QueryDict, *, original: dict[str, str | None], adding: bool = False
) -> Submitted:
    """Return the posted values of the editable fields, parsed for their columns.

    In an added row, a required column (NOT NULL) left empty is no value, as a new row's cell
    is in psql tools: NULL goes to the database, which has the last word (a trigger may fill
    the column; otherwise its NOT NULL refusal is shown on the field)."""
    submitted = Submitted({}, {}, {})
    for field in fields:
        if not field.editable:
            continue
        name = field.name
        if field.has_default and data.get(f"default.{name}"):
            submitted.values[name] = UNSET
            field.use_default = True
            continue
        field.use_default = False
        if data.get(f"null.{name}"):
            if not field.info.nullable:
                submitted.errors[name] = "This column cannot be NULL."
            submitted.values[name] = None
            submitted.python[name] = None
            field.value = None
            continue
        raw = data.get(f"v.{name}", "")
        field.value = raw
        if adding and raw == "" and not field.info.nullable:
            submitted.values[name] = None
            continue
        if name in original and original[name] == raw:  # untouched: keep it as it was read
            submitted.values[name] = raw
            with contextlib.suppress(BadValue):  # the database's value: it checks it again
                python = parse_input(field.info, raw)[1]
                if python is not KNOWN_LATER:
                    submitted.python[name] = python
            continue
        try:
            text, python = parse_input(field.info, raw)
        except BadValue as exc:
            submitted.errors[name] = str(exc)
            continue
        submitted.values[name] = text
        if python is not KNOWN_LATER:
            submitted.python[name] = python
    for name, message in submitted.errors.items():
        next(f for f in fields if f.name == name).error = message
    return submitted


def model_for(table_name: str) -> type | None:
    """Return the SQLModel model of `table_name` in SCHEMA_MODELS, or None."""
    module_name = str(getattr(settings, "SCHEMA_MODELS", "") or "")
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception:  # a broken models module is the drift card's to report
        return None
    for value in vars(module).values():
        table = getattr(value, "__table__", None)
        if isinstance(value, type) and isinstance(table, sa.Table) and table.name == table_name:
            return value
    return None


def model_errors(table_name: str, python: dict[str, Any]) -> dict[str, str]:
    """Return the model's validation errors on the given columns ({} without a model)."""
    from pydantic import BaseModel, ValidationError

    model = model_for(table_name)
    if model is None or not issubclass(model, BaseModel):  # a plain SQLAlchemy class: no rules
        return {}
    try:
        model.model_validate(python)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            location = error.get("loc") or ()
            name = str(location[0]) if location else ""
            if name in python:  # a field the form did not give is the database's to fill
                errors.setdefault(name, str(error.get("msg", "Not valid.")))
        return errors
    return {}


SQLSTATE_SENTENCES = {
    "23514": "This value is not allowed (CHECK constraint {constraint}).",
    "23502": "A value is required here (NOT NULL).",
    "23505": "Another row has this value already (unique constraint {constraint}).",
    "23503": "This refers to a row that does not exist, or other rows refer to this one "
    "(foreign key {constraint}).",
    "23P01": "This value conflicts with another row (exclusion constraint {constraint}).",
}
MISSING_PARENT = "No row of “{parent}” has this value (foreign key {constraint})."


def constraint_columns(table: Table, constraint: str) -> list[str]:
    """Return the columns of `table` a constraint (or unique index) of that name is about."""
    for item in table.constraints:
        if item.name != constraint:
            continue
        if isinstance(item, sa.CheckConstraint):
            sql = str(item.sqltext)
            return [c.name for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", sql)]
        if isinstance(item, ColumnCollectionConstraint):
            return [column.name for column in item.columns]
    for index in table.indexes:
        if index.name == constraint:
            return [column.name for column in index.columns]
    return []


def referred_table(table: Table, constraint: str) -> str:
    """Return the table a foreign key of `table` of that name refers to ('' if none)."""
    for item in table.foreign_key_constraints:
        if item.name == constraint:
            return str(item.referred_table.name)
    return ""


def database_errors(table: Table, error: WriteError) -> tuple[dict[str, str], str]:
    """Return a database refusal as errors on fields, and what is left for the whole form."""
    template = SQLSTATE_SENTENCES.get(error.sqlstate)
    sentence = template.format(constraint=error.constraint) if template else error.sentence
    # The database names the referring table: an added or edited row of `table` whose own
    # foreign key finds no parent row.
    parent = referred_table(table, error.constraint) if error.sqlstate == "23503" else ""
    if parent and error.table == table.name:
        sentence = MISSING_PARENT.format(parent=parent, constraint=error.constraint)
    if error.table and error.table != table.name:
        return {}, f"{error.sentence} ({error.table})"
    if error.column and error.column in table.c:
        return {error.column: sentence}, ""
    columns = constraint_columns(table, error.constraint) if error.constraint else []
    if columns:
        return dict.fromkeys(columns, sentence), ""
    return {}, error.sentence
