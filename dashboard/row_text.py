"""Rows as PostgreSQL's own text: how the time machine and row changes read, compare and guard.

Every value is read as its type's text output (`CAST(col AS TEXT)`) under output settings fixed
for the transaction (UTC, ISO dates, hex bytea, ...), so one value reads the same in a branch
and in the target, and written back as `'<text>'::<type>` it is that value again, whatever its
type (arrays, JSON, intervals, enums, domains). A row's fingerprint is the md5 of a key and the
array of its values' text, computed by the database: a change is guarded by "the row still has
the fingerprint it had when it was shown", and the statement that runs says so in SQL.

The key (derived from SECRET_KEY, `FINGERPRINT_KEY_SETTING`, set for the transaction with the
output settings and never written into a statement's text) keeps a fingerprint from betraying
the masked values it covers: without it, anyone who saw a fingerprint (a preview's guard, a
form, the audit trail) and the row's other values could test guesses of a short secret offline.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    Table,
    Text,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import array

from dashboard.data.display import display_for
from dashboard.data.masking import masked_columns
from dashboard.suggested_sql import quote_identifier, quote_literal

MASK = "********"
FINGERPRINT_LABEL = "__fingerprint"

# Transaction-local output settings under which text values compare and round-trip.
OUTPUT_SETTINGS = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("bytea_output", "hex"),
    ("extra_float_digits", "1"),
    ("standard_conforming_strings", "on"),
)
# The fingerprints' key, a transaction-local setting (read by `current_setting`, which fails
# loudly in a transaction that did not set it).
FINGERPRINT_KEY_SETTING = "schemadesk.row_fingerprint_key"
_SETTING_NAMES = (*(name for name, _ in OUTPUT_SETTINGS), FINGERPRINT_KEY_SETTING)
OUTPUT_SETTINGS_SQL = "SELECT " + ", ".join(
    f"set_config('{name}', %s, true)" for name in _SETTING_NAMES
)


def fingerprint_key() -> str:
    """Return the key of row fingerprints: derived from SECRET_KEY, the same in every process."""
    return hmac.new(
        settings.SECRET_KEY.encode(), b"schemadesk row fingerprint", hashlib.sha256
    ).hexdigest()


def output_setting_values() -> tuple[str, ...]:
    """Return the values for OUTPUT_SETTINGS_SQL's placeholders (psycopg)."""
    return (*(value for _, value in OUTPUT_SETTINGS), fingerprint_key())


def fix_text_output(conn: Connection) -> None:
    """Set the output settings and the fingerprints' key for the current transaction
    (SQLAlchemy connection)."""
    values = output_setting_values()
    params = {f"v{i}": value for i, value in enumerate(values)}
    calls = ", ".join(f"set_config('{name}', :v{i}, true)" for i, name in enumerate(_SETTING_NAMES))
    conn.execute(text(f"SELECT {calls}"), params)


def as_text(column: Column) -> ColumnElement:
    """Return `CAST(column AS TEXT)` (SQLAlchemy)."""
    return cast(column, Text)


def fingerprint(table: Table, columns: Sequence[str]) -> ColumnElement:
    """Return md5(key || ARRAY[col::text, ...]::text) over `columns` of `table` (SQLAlchemy);
    the key is the transaction's FINGERPRINT_KEY_SETTING (see fix_text_output)."""
    key = func.current_setting(FINGERPRINT_KEY_SETTING)
    return func.md5(key.concat(cast(array([as_text(table.c[name]) for name in columns]), Text)))


def fingerprint_sql(columns: Sequence[str], qualifier: str = "") -> str:
    """Return the same fingerprint as SQL text (`qualifier` is an alias and a dot, or '')."""
    values = ", ".join(f"{qualifier}{quote_identifier(name)}::text" for name in columns)
    return f"md5(current_setting('{FINGERPRINT_KEY_SETTING}') || ARRAY[{values}]::text)"


def typed_literal(value: str | None, type_sql: str) -> str:
    """Return a value's text as a literal of its type: `'42'::bigint`, `NULL::text`."""
    if value is None:
        return f"NULL::{type_sql}"
    return f"{quote_literal(value)}::{type_sql}"


def masked_names(table: Table) -> set[str]:
    """Return the columns of `table` whose values pages, exports and the audit trail never show
    in clear (the Data browser's rule: secret-looking names, minus the table's
    `unmasked_columns`, plus its `hidden_columns`, which the Data browser never shows)."""
    display = display_for(table.name)
    hidden = {name for name in display.hidden_columns if name in table.c}
    return masked_columns(table.c.keys(), display.unmasked_columns) | hidden


def shown_values(values: Mapping[str, str | None], masked: set[str]) -> dict[str, str | None]:
    """Return row values as pages and the audit trail show them: masked ones as ********."""
    return {
        name: (MASK if name in masked and value is not None else value)
        for name, value in values.items()
    }


def key_text(values: Mapping[Any, Any], key: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Return the primary key of a row read as text, as (column, text) pairs."""
    return tuple((name, str(values[name])) for name in key)


def run_text(conn: Connection, statement: str) -> list[Any]:
    """Return the rows of SQL text that carries its own literals (no parameters), run on a
    SQLAlchemy connection in its transaction."""
    # psycopg reads `%` as a placeholder when given parameters; SQLAlchemy always gives some.
    result = conn.exec_driver_sql(statement.replace("%", "%%"))
    return list(result.all()) if result.returns_rows else []


@dataclass(frozen=True)
class TextRow:
    """One row read as text: its key, its values (None for NULL) and its fingerprint."""

    key: tuple[tuple[str, str], ...]
    values: dict[str, str | None]
    fingerprint: str


def text_rows_statement(
    table: Table, where: Sequence[ColumnElement], columns: Sequence[str] | None = None
) -> Select:
    """Return SELECT of `columns` (default: all) as text with the fingerprint over them."""
    names = list(columns) if columns is not None else list(table.c.keys())
    return select(
        *(as_text(table.c[name]).label(name) for name in names),
        fingerprint(table, names).label(FINGERPRINT_LABEL),
    ).where(*where)


def text_rows(
    conn: Connection,
    table: Table,
    where: Sequence[ColumnElement],
    columns: Sequence[str] | None = None,
) -> list[TextRow]:
    """Return the rows of `table` matching `where`, read as text (call fix_text_output first)."""
    names = list(columns) if columns is not None else list(table.c.keys())
    key = [column.name for column in table.primary_key.columns]
    rows = conn.execute(text_rows_statement(table, where, names)).mappings().all()
    return [
        TextRow(
            key=key_text(row, key),
            values={name: row[name] for name in names},
            fingerprint=row[FINGERPRINT_LABEL],
        )
        for row in rows
    ]
