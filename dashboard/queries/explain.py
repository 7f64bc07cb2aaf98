"""EXPLAIN of a recorded statement, its `$n` parameters filled with operator-typed values.

pg_stat_statements stores statements with their constants replaced by `$1, $2, …`. The plan
needs values, so the operator types one per parameter; each is turned into a SQL literal by
psycopg's quoting (`sql.Literal`) and cast to the parameter's type, and the literal replaces the
`$n` token found by pglast's scanner (never inside a string or a comment). The parameter types
come from the statement PREPAREd (`pg_prepared_statements.parameter_types`) and deallocated in
the same transaction, so nothing outlives it behind a transaction-mode pooler. A recorded text
the server cannot parse (`interval $3`) is offered again as pglast writes it back. The generic
plan, for any values, is `EXPLAIN (GENERIC_PLAN)` on PostgreSQL 16+ and, before, the prepared
statement planned with `plan_cache_mode = force_generic_plan` and `EXPLAIN EXECUTE … (NULL, …)`.

Everything runs through `run_read`: a READ ONLY transaction that is rolled back, under a
statement timeout. A plain EXPLAIN of a statement that writes (INSERT, UPDATE, DELETE, MERGE, a
WITH that modifies data, FOR UPDATE) needs the rights to run it, even though it is only planned,
so it runs as the application's runtime role (`run_read(as_application=True)`), still in a READ
ONLY transaction, where PostgreSQL plans a write but never executes one; without that role it is
refused with a sentence saying how to set it up. EXPLAIN ANALYZE executes the statement, so it
passes four fences (the view also requires the engineer role and writes an audit event):

1. its shape: a single plain SELECT (analysis.statement_shape);
2. no masked column (plan_masking): an analyzed plan's row counts would reveal its values;
3. the allow-list: every function it can make the server run is checked in the catalog
   (allow_list; plain EXPLAIN is checked too, for the functions planning may evaluate);
4. it runs as the read-only role (`run_read(restricted=True)`), so whatever the allow-list
   missed cannot signal another session, read server files or write. Without such a role,
   EXPLAIN ANALYZE is refused with a sentence saying how to set one up.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from psycopg import sql
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.queries.allow_list import allow_list_refusal
from dashboard.queries.analysis import statement_count, statement_shape
from dashboard.queries.plan_masking import masked_column_refusal
from dashboard.queries.plans import Plan, plan_from_json
from dashboard.queries.sqlformat import bind_literals, format_sql, parameter_numbers
from dashboard.schema.reflection import reflection
from dashboard.target import (
    application_url,
    driver_connection,
    read_only_setup,
    run_read,
    target_schema,
)

NO_READ_ONLY_ROLE = (
    "EXPLAIN ANALYZE runs the statement, so it runs only as a read-only database role, and "
    "none is set up. Set TARGET_READONLY_DATABASE_URL to a login role that may only SELECT the "
    "application's tables (or TARGET_READONLY_ROLE to such a role the console's role may SET "
    "ROLE to); the README's security section has the SQL. Plain EXPLAIN works without it."
)
NO_APPLICATION_ROLE = (
    "This statement writes, and even a plain EXPLAIN of it needs the rights to run it "
    "(PostgreSQL checks them when planning), which the console's reader does not have. Set "
    "TARGET_WRITE_DATABASE_URL to the application's runtime role: the console then plans the "
    "statement as that role in a read-only transaction that is rolled back, so it never runs."
)
T = TypeVar("T")
GENERIC_PLAN_OPTION_VERSION = 160000  # EXPLAIN (GENERIC_PLAN) exists from PostgreSQL 16
UNKNOWN_TYPE_NAMES = {"unknown", "-", ""}

PARAMETER_TYPES_SQL = text(
    """
    SELECT parameter_types::text[] AS types
    FROM pg_catalog.pg_prepared_statements
    WHERE name = :name
    """
)


class ExplainRefused(ValueError):
    """The statement may not be explained this way; the message is a sentence for the operator."""


@dataclass
class ParameterSlot:
    """One `$n` of a statement: its number, the type the server infers, the operator's value."""

    number: int
    type_name: str | None = None
    value: str = ""

    @property
    def name(self) -> str:
        return f"p{self.number}"


@dataclass
class ExplainOutcome:
    """A plan and the exact statement that produced it."""

    plan: Plan
    statement: str
    analyze: bool
    generic: bool
    elapsed_ms: float


def _run_text(conn: Connection, sql_text: str) -> Any:
    """Run `sql_text` as it is (no placeholder parsing) and return its first row, if any."""
    raw = driver_connection(conn)
    try:
        with raw.cursor() as cursor:
            cursor.execute(sql_text)
            return cursor.fetchone() if cursor.description else None
    except psycopg.Error as exc:
        raise DBAPIError(sql_text, None, exc) from exc  # run_read translates it


@contextmanager
def prepared_statement(conn: Connection, statement: str) -> Iterator[str]:
    """Yield the name of `statement` prepared (SQL PREPARE) inside a savepoint.

    A prepared statement outlives a rollback, so it is always deallocated in the same
    transaction (nothing is left behind a transaction-mode pooler); a session where that fails
    is thrown away.
    """
    if statement_count(statement) != 1:
        raise ExplainRefused("Only a single statement can be explained.")
    name = f"schemadesk_{secrets.token_hex(8)}"  # a fixed alphabet: safe as an identifier
    savepoint = conn.begin_nested()
    made = False
    try:
        _run_text(conn, f"PREPARE {name} AS {statement}")
        made = True
        yield name
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()
    finally:
        if made:
            try:
                _run_text(conn, f"DEALLOCATE {name}")
            except DBAPIError:
                conn.invalidate()


@dataclass(frozen=True)
class PreparedShape:
    """How the server reads a statement: the text it accepted and each parameter's type."""

    text: str
    types: tuple[str | None, ...]


def _candidate_texts(query: str) -> list[str]:
    """Return the texts to offer the server: the recorded one, then pglast's rendering.

    pg_stat_statements replaces constants with `$n` even where the grammar wants a literal
    (`interval '3 days'` is recorded as `interval $3`, which does not parse); pglast reads such
    texts and writes them back in a form PostgreSQL accepts (`CAST($3 AS interval)`).
    """
    formatted = format_sql(query)
    if formatted.pretty and formatted.text != query:
        return [query, formatted.text]
    return [query]


def prepared_shape(conn: Connection, query: str) -> PreparedShape | None:
    """Return the text the server PREPAREs and its parameter types, or None if it refuses all."""
    for candidate in _candidate_texts(query):
        try:
            with prepared_statement(conn, candidate) as name:
                types = conn.execute(PARAMETER_TYPES_SQL, {"name": name}).scalar_one()
        except (DBAPIError, ExplainRefused):
            continue
        return PreparedShape(
            candidate,
            tuple(None if name in UNKNOWN_TYPE_NAMES else name for name in types or []),
        )
    return None


def parameter_slots(
    conn: Connection, query: str, shape: PreparedShape | None = None
) -> list[ParameterSlot]:
    """Return one slot per `$n` of `query`, typed when the server can infer the type."""
    numbers = parameter_numbers(query)
    if not numbers:
        return []
    shape = shape or prepared_shape(conn, query)
    types = shape.types if shape else ()
    return [
        ParameterSlot(number, types[number - 1] if number - 1 < len(types) else None)
        for number in numbers
    ]


def _literal(raw: Any, slot: ParameterSlot) -> str:
    """Return the slot's value as a quoted SQL literal cast to the parameter's type."""
    if slot.value.strip().upper() == "NULL":
        literal = "NULL"
    else:
        literal = sql.Literal(slot.value).as_string(raw).strip()
    # The type name comes from format_type() on the server: it is quoted where it must be.
    return f"{literal}::{slot.type_name}" if slot.type_name else literal


def bound_statement(
    conn: Connection, query: str, values: dict[int, str], shape: PreparedShape | None = None
) -> str:
    """Return `query` with every `$n` replaced by the literal of `values[n]` (in the text the
    server accepted, when `query` itself does not parse)."""
    raw = driver_connection(conn)
    shape = shape or prepared_shape(conn, query)
    slots = parameter_slots(conn, query, shape)
    for slot in slots:
        slot.value = values[slot.number]
    literals = {slot.number: _literal(raw, slot) for slot in slots}
    return bind_literals(shape.text if shape else query, literals)


def missing_values(query: str, values: dict[int, str]) -> list[int]:
    """Return the parameter numbers of `query` that have no value."""
    return [number for number in parameter_numbers(query) if not values.get(number, "").strip()]


def explain_options(*, analyze: bool) -> str:
    """Return the EXPLAIN option list (a fixed vocabulary, never user text)."""
    options = ["FORMAT JSON", "SETTINGS"]
    if analyze:
        options = ["ANALYZE", "BUFFERS", *options]
    return ", ".join(options)


def explain_json(conn: Connection, statement: str, options: str) -> list[dict[str, Any]]:
    """Return the JSON plan of `statement` (already bound, a single statement)."""
    if statement_count(statement) != 1:
        # Literals are quoted by psycopg, so this cannot happen; checked anyway because the
        # text is sent without parameters.
        raise ExplainRefused("Only a single statement can be explained.")
    # The driver's cursor, without parameters: the text reaches the server as it is, with no
    # client-side placeholder parsing (a `%` or `:name` inside a literal stays intact).
    return _run_text(conn, f"EXPLAIN ({options}) {statement}")[0]


def generic_plan_json(conn: Connection, statement: str, options: str) -> list[dict[str, Any]]:
    """Return the plan of `statement` for any parameter values.

    PostgreSQL 16+ has EXPLAIN (GENERIC_PLAN). Before, the same plan comes from the statement
    prepared and planned with `plan_cache_mode = force_generic_plan`: the NULLs passed to
    EXECUTE are not used for planning. The setting is local to the read's transaction.
    """
    raw = driver_connection(conn)
    if raw.info.server_version >= GENERIC_PLAN_OPTION_VERSION:
        return explain_json(conn, statement, f"GENERIC_PLAN, {options}")
    count = max(parameter_numbers(statement), default=0)
    arguments = f"({', '.join(['NULL'] * count)})" if count else ""
    with prepared_statement(conn, statement) as name:
        conn.execute(text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"))
        return _run_text(conn, f"EXPLAIN ({options}) EXECUTE {name}{arguments}")[0]


def analyze_refusal_without_catalog(query: str) -> str | None:
    """Return why EXPLAIN ANALYZE may not run `query`, from its text, the schema and settings."""
    shape = statement_shape(query)
    if shape.analyze_refusal:
        return shape.analyze_refusal
    masked = masked_column_refusal(query, reflection().tables, target_schema())
    if masked:
        return masked
    if read_only_setup() is None:
        return NO_READ_ONLY_ROLE
    return None


def plain_refusal(query: str) -> str | None:
    """Return why a plain EXPLAIN of `query` cannot run here (it writes, and the application's
    role is not configured), or None."""
    if statement_shape(query).writes and application_url() is None:
        return NO_APPLICATION_ROLE
    return None


def run_plain(work: Callable[[Connection], T], query: str) -> T:
    """Return work(conn) in a read-only transaction as the role that may plan `query` without
    running it: the reader, or for a statement that writes, the application's role."""
    refusal = plain_refusal(query)
    if refusal:
        raise ExplainRefused(refusal)
    return run_read(work, as_application=statement_shape(query).writes)


def check_explainable(query: str, *, analyze: bool, generic: bool, values: dict[int, str]) -> None:
    """Raise ExplainRefused with a sentence when the statement may not be explained so."""
    shape = statement_shape(query)
    if not shape.explainable:
        raise ExplainRefused(shape.analyze_refusal or "This statement cannot be explained.")
    if not analyze:
        refusal = plain_refusal(query)
        if refusal:
            raise ExplainRefused(refusal)
    if analyze:
        refusal = analyze_refusal_without_catalog(query)
        if refusal:
            raise ExplainRefused(refusal)
    if analyze and generic:
        raise ExplainRefused("A generic plan cannot be analyzed: it has no parameter values.")
    if not generic:
        missing = missing_values(query, values)
        if missing:
            names = ", ".join(f"${number}" for number in missing)
            raise ExplainRefused(
                f"Fill a value for {names} (type NULL for a null), or ask for the generic plan."
            )


def checked_statement(
    conn: Connection, query: str, values: dict[int, str], *, analyze: bool, generic: bool
) -> str:
    """Return `query` with `values` bound, once the allow-list accepts what would run (for a
    generic plan, the text the server accepts, its `$n` left in place)."""
    shape = prepared_shape(conn, query)
    if generic:
        statement = shape.text if shape else query
    else:
        statement = bound_statement(conn, query, values, shape)
    refusal = allow_list_refusal(conn, statement, analyze=analyze)
    if refusal:
        raise ExplainRefused(refusal)
    return statement


def explain_statement(
    query: str, values: dict[int, str], *, analyze: bool = False, generic: bool = False
) -> ExplainOutcome:
    """Return the plan of `query` with `values` bound (ANALYZE runs it, read-only, rolled back);
    with `generic`, the plan for any values."""
    check_explainable(query, analyze=analyze, generic=generic, values=values)
    options = explain_options(analyze=analyze)

    def work(conn: Connection) -> ExplainOutcome:
        statement = checked_statement(conn, query, values, analyze=analyze, generic=generic)
        started = time.perf_counter()
        if generic:
            document = generic_plan_json(conn, statement, options)
        else:
            document = explain_json(conn, statement, options)
        elapsed = (time.perf_counter() - started) * 1000
        return ExplainOutcome(plan_from_json(document), statement, analyze, generic, elapsed)

    if analyze:
        return run_read(work, timeout_ms=settings.QUERIES_EXPLAIN_TIMEOUT_MS, restricted=True)
    return run_plain(work, query)
