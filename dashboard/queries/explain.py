"""EXPLAIN of a recorded statement, its `$n` parameters filled with operator-typed values.

pg_stat_statements stores statements with their constants replaced by `$1, $2, …`. The plan
needs values, so the operator types one per parameter; each is turned into a SQL literal by
psycopg's quoting (`sql.Literal`) and cast to the parameter's type, and the literal replaces the
`$n` token found by pglast's scanner (never inside a string or a comment). No PREPARE/EXECUTE
is used: the parameter types come from a protocol-level Describe of the unnamed statement, which
also works behind a transaction-mode pooler. On PostgreSQL 16+ `EXPLAIN (GENERIC_PLAN)` shows
the plan without any value.

Everything runs through `run_read`: a READ ONLY transaction that is rolled back, under a
statement timeout. EXPLAIN ANALYZE executes the statement, so it passes four fences (the view
also requires the engineer role and writes an audit event):

1. its shape: a single plain SELECT (analysis.statement_shape);
2. no masked column (plan_masking): an analyzed plan's row counts would reveal its values;
3. the allow-list: every function it can make the server run is checked in the catalog
   (allow_list; plain EXPLAIN is checked too, for the functions planning may evaluate);
4. it runs as the read-only role (`run_read(restricted=True)`), so whatever the allow-list
   missed cannot signal another session, read server files or write. Without such a role,
   EXPLAIN ANALYZE is refused with a sentence saying how to set one up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from psycopg import pq, sql
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from dashboard.queries.allow_list import allow_list_refusal
from dashboard.queries.analysis import statement_count, statement_shape
from dashboard.queries.plan_masking import masked_column_refusal
from dashboard.queries.plans import Plan, plan_from_json
from dashboard.queries.sqlformat import bind_literals, parameter_numbers
from dashboard.schema.reflection import reflection
from dashboard.target import driver_connection, read_only_setup, run_read, target_schema

UNKNOWN_TYPES = {0, 705}  # no type / `unknown`: leave the literal uncast
NO_READ_ONLY_ROLE = (
    "EXPLAIN ANALYZE runs the statement, so it runs only as a read-only database role, and "
    "none is set up. Set TARGET_READONLY_DATABASE_URL to a login role that may only SELECT the "
    "application's tables (or TARGET_READONLY_ROLE to such a role the console's role may SET "
    "ROLE to); the README's security section has the SQL. Plain EXPLAIN works without it."
)

TYPE_NAMES_SQL = text(
    """
    SELECT
        t.oid,
        format_type(t.oid, NULL) AS type_name
    FROM unnest(CAST(:oids AS oid[])) AS t(oid)
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


def _parameter_type_oids(conn: Connection, query: str) -> list[int] | None:
    """Return the type oid of each parameter as the server infers it, or None if it cannot."""
    raw = driver_connection(conn)
    savepoint = conn.begin_nested()  # a failed Parse aborts the transaction: keep it contained
    try:
        parsed = raw.pgconn.prepare(b"", query.encode(raw.info.encoding))
        if parsed.status != pq.ExecStatus.COMMAND_OK:
            return None
        described = raw.pgconn.describe_prepared(b"")
        if described.status != pq.ExecStatus.COMMAND_OK:
            return None
        return [described.param_type(index) for index in range(described.nparams)]
    finally:
        savepoint.rollback()


def parameter_slots(conn: Connection, query: str) -> list[ParameterSlot]:
    """Return one slot per `$n` of `query`, typed when the server can infer the type."""
    numbers = parameter_numbers(query)
    if not numbers:
        return []
    oids = _parameter_type_oids(conn, query) or []
    known = sorted({oid for oid in oids if oid not in UNKNOWN_TYPES})
    names: dict[int, str] = {}
    if known:
        names = {row.oid: row.type_name for row in conn.execute(TYPE_NAMES_SQL, {"oids": known})}
    slots = []
    for number in numbers:
        oid = oids[number - 1] if number - 1 < len(oids) else 0
        slots.append(ParameterSlot(number, names.get(oid)))
    return slots


def _literal(raw: Any, slot: ParameterSlot) -> str:
    """Return the slot's value as a quoted SQL literal cast to the parameter's type."""
    if slot.value.strip().upper() == "NULL":
        literal = "NULL"
    else:
        literal = sql.Literal(slot.value).as_string(raw).strip()
    # The type name comes from format_type() on the server: it is quoted where it must be.
    return f"{literal}::{slot.type_name}" if slot.type_name else literal


def bound_statement(conn: Connection, query: str, values: dict[int, str]) -> str:
    """Return `query` with every `$n` replaced by the literal of `values[n]`."""
    raw = driver_connection(conn)
    slots = parameter_slots(conn, query)
    for slot in slots:
        slot.value = values[slot.number]
    literals = {slot.number: _literal(raw, slot) for slot in slots}
    return bind_literals(query, literals)


def missing_values(query: str, values: dict[int, str]) -> list[int]:
    """Return the parameter numbers of `query` that have no value."""
    return [number for number in parameter_numbers(query) if not values.get(number, "").strip()]


def explain_options(*, analyze: bool, generic: bool) -> str:
    """Return the EXPLAIN option list (a fixed vocabulary, never user text)."""
    options = ["FORMAT JSON", "SETTINGS"]
    if analyze:
        options = ["ANALYZE", "BUFFERS", *options]
    if generic:
        options.insert(0, "GENERIC_PLAN")
    return ", ".join(options)


def explain_json(conn: Connection, statement: str, options: str) -> list[dict[str, Any]]:
    """Return the JSON plan of `statement` (already bound, a single statement)."""
    if statement_count(statement) != 1:
        # Literals are quoted by psycopg, so this cannot happen; checked anyway because the
        # text is sent without parameters (the simple protocol accepts several statements).
        raise ExplainRefused("Only a single statement can be explained.")
    sql_text = f"EXPLAIN ({options}) {statement}"
    raw = driver_connection(conn)
    try:
        # The driver's cursor, without parameters: the text reaches the server as it is, with
        # no client-side placeholder parsing (a `%` or `:name` inside a literal stays intact).
        with raw.cursor() as cursor:
            cursor.execute(sql_text)
            row = cursor.fetchone()
    except psycopg.Error as exc:
        raise DBAPIError(sql_text, None, exc) from exc  # run_read translates it
    return row[0]  # type: ignore[index]  # EXPLAIN always answers one row


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


def check_explainable(query: str, *, analyze: bool, generic: bool, values: dict[int, str]) -> None:
    """Raise ExplainRefused with a sentence when the statement may not be explained so."""
    shape = statement_shape(query)
    if not shape.explainable:
        raise ExplainRefused(shape.analyze_refusal or "This statement cannot be explained.")
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
    """Return `query` with `values` bound, once the allow-list accepts what would run."""
    statement = query if generic else bound_statement(conn, query, values)
    refusal = allow_list_refusal(conn, statement, analyze=analyze)
    if refusal:
        raise ExplainRefused(refusal)
    return statement


def explain_statement(
    query: str, values: dict[int, str], *, analyze: bool = False, generic: bool = False
) -> ExplainOutcome:
    """Return the plan of `query` with `values` bound (ANALYZE runs it, read-only, rolled back)."""
    check_explainable(query, analyze=analyze, generic=generic, values=values)
    options = explain_options(analyze=analyze, generic=generic)

    def work(conn: Connection) -> ExplainOutcome:
        statement = checked_statement(conn, query, values, analyze=analyze, generic=generic)
        started = time.perf_counter()
        document = explain_json(conn, statement, options)
        elapsed = (time.perf_counter() - started) * 1000
        return ExplainOutcome(plan_from_json(document), statement, analyze, generic, elapsed)

    if analyze:
        return run_read(work, timeout_ms=settings.QUERIES_EXPLAIN_TIMEOUT_MS, restricted=True)
    return run_read(work)
