"""Index suggestions for a statement, and its plan with those indexes made up by hypopg.

Suggestions come from the parse tree (analysis.statement_scopes): per table, the columns
compared with `=`/IN/IS NULL first, then ORDER BY columns, then one range column (the usual
equality, sort, range order of a B-tree), or a join column when nothing else filters the table.
Columns are mapped to real tables through the reflected metadata; a suggestion whose columns
already lead an existing index is reported as covered, not suggested.

hypopg's hypothetical indexes live in the backend's memory, not in the catalog, so they work
inside the READ ONLY transaction `run_read` opens (for a statement that writes, as the
application's role: `explain.run_plain`) (checked against hypopg 1.3). They are not
undone by a rollback: `hypopg_reset()` always runs before the connection goes back to the pool,
and if it cannot, the connection is thrown away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, text
from sqlalchemy.exc import DBAPIError

from dashboard.queries.analysis import Scope, statement_scopes
from dashboard.queries.explain import (
    ExplainRefused,
    check_explainable,
    checked_statement,
    explain_json,
    explain_options,
    run_plain,
)
from dashboard.queries.extension import qualified
from dashboard.queries.indexes import IndexInfo, index_catalog, table_row_estimates
from dashboard.queries.plans import Plan, plan_from_json
from dashboard.queries.sqlformat import statement_label
from dashboard.schema.reflection import reflection
from dashboard.suggested_sql import create_index_sql
from dashboard.target import run_read, target_schema

MAX_COLUMNS = 3
SMALL_TABLE_ROWS = 1000  # below this, a sequential scan is as good as an index

HYPOPG_SQL = text(
    """
    SELECT
        EXISTS (
            SELECT 1
            FROM pg_catalog.pg_available_extensions
            WHERE name = 'hypopg'
        ) AS available,
        e.extversion AS version,
        n.nspname AS schema,
        current_setting('neon.tenant_id', true) IS NOT NULL AS on_neon
    FROM (SELECT 1) AS one
    LEFT JOIN pg_catalog.pg_extension AS e
        ON e.extname = 'hypopg'
    LEFT JOIN pg_catalog.pg_namespace AS n
        ON n.oid = e.extnamespace
    """
)


@dataclass(frozen=True)
class IndexSuggestion:
    """A B-tree index that may help a statement."""

    schema: str
    table: str
    columns: tuple[str, ...]
    reasons: tuple[str, ...]
    covered_by: str | None = None
    table_rows: float | None = None

    @property
    def small_table(self) -> bool:
        return self.table_rows is not None and self.table_rows < SMALL_TABLE_ROWS

    def definition(self, concurrently: bool = True) -> str:
        """Return the CREATE INDEX statement (schema-qualified, identifiers quoted)."""
        return create_index_sql(self.schema, self.table, self.columns, concurrently=concurrently)


@dataclass
class _TableUse:
    equality: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    join: list[str] = field(default_factory=list)

    def add(self, role: str, column: str) -> None:
        bucket = getattr(self, role)
        if column not in bucket:
            bucket.append(column)


def _resolve(scope: Scope, tables: dict[str, Table], schema: str) -> dict[str, _TableUse]:
    """Return the column uses of one scope per real table of the target schema."""
    aliases = {
        alias: relation.name
        for alias, relation in scope.relations.items()
        if relation.schema in (None, schema) and relation.name in tables
    }
    uses: dict[str, _TableUse] = {}
    sort_tables: set[str] = set()
    for use in scope.uses:
        if use.qualifier is not None:
            table = aliases.get(use.qualifier)
            candidates = [table] if table and use.column in tables[table].c else []
        else:
            candidates = sorted({name for name in aliases.values() if use.column in tables[name].c})
        if len(candidates) != 1:
            if use.role == "sort":
                sort_tables.add("?")  # a sort on something else: no index can serve it
            continue  # unknown alias, not a real column, or ambiguous
        table = candidates[0]
        if use.role == "sort":
            sort_tables.add(table)
        uses.setdefault(table, _TableUse()).add(use.role, use.column)
    if len(sort_tables) > 1:  # ORDER BY across tables: an index on one cannot give the order
        for table_use in uses.values():
            table_use.sort.clear()
    return uses


def _candidate(table_use: _TableUse) -> tuple[tuple[str, ...], tuple[str, ...]]:
    columns: list[str] = []
    reasons: list[str] = []

    def add(column: str, reason: str) -> None:
        if column not in columns:
            if len(columns) == MAX_COLUMNS:
                return
            columns.append(column)
        reasons.append(reason)

    for column in table_use.equality:
        add(column, f"{column} =")
    for column in table_use.sort:
        add(column, f"ORDER BY {column}")
    for column in table_use.range[:1]:
        add(column, f"{column} range")
    if not columns and table_use.join:
        add(table_use.join[0], f"join on {table_use.join[0]}")
    return tuple(columns), tuple(reasons)


def _covering_index(
    table: str, columns: tuple[str, ...], catalog: Iterable[IndexInfo]
) -> str | None:
    for index in catalog:
        if index.table != table or not index.is_valid or index.predicate:
            continue
        if index.method == "btree" and index.key_columns[: len(columns)] == columns:
            return index.name
    return None


def index_suggestions(
    query: str,
    catalog: list[IndexInfo],
    table_rows: dict[str, float | None],
    tables: dict[str, Table],
    schema: str,
) -> list[IndexSuggestion]:
    """Return index suggestions for `query` (covered ones included, marked `covered_by`)."""
    suggestions: dict[tuple[str, tuple[str, ...]], IndexSuggestion] = {}
    for scope in statement_scopes(query):
        for table, table_use in _resolve(scope, tables, schema).items():
            columns, reasons = _candidate(table_use)
            if not columns or (table, columns) in suggestions:
                continue
            suggestions[(table, columns)] = IndexSuggestion(
                schema=schema,
                table=table,
                columns=columns,
                reasons=reasons,
                covered_by=_covering_index(table, columns, catalog),
                table_rows=table_rows.get(table),
            )
    return list(suggestions.values())


def suggestions_for(query: str) -> list[IndexSuggestion]:
    """Return index suggestions for one statement, reading the catalog of the target schema."""
    schema = target_schema()
    tables = reflection().tables

    def work(conn: Connection) -> list[IndexSuggestion]:
        return index_suggestions(
            query, index_catalog(conn, schema), table_row_estimates(conn, schema), tables, schema
        )

    return run_read(work)


# ---- hypopg ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HypopgStatus:
    """Whether hypopg can be used, and if not, what to do."""

    installed: bool
    schema: str | None = None
    sentence: str = ""
    fix: str = ""


def hypopg_status(conn: Connection) -> HypopgStatus:
    """Return whether the hypopg extension exists in the target database."""
    row = conn.execute(HYPOPG_SQL).mappings().one()
    if row["version"]:
        return HypopgStatus(True, row["schema"])
    if row["available"] or row["on_neon"]:
        return HypopgStatus(
            False,
            sentence="hypopg is available on the server but not enabled in this database. "
            "Enable it to compare plans with hypothetical indexes (nothing is built).",
            fix="CREATE EXTENSION hypopg;",
        )
    return HypopgStatus(
        False,
        sentence="hypopg is not installed on the database server, so plans with hypothetical "
        "indexes cannot be shown. Install it (Debian/Ubuntu: the postgresql-NN-hypopg package), "
        "then enable it in this database.",
        fix="CREATE EXTENSION hypopg;",
    )


def hypopg_available() -> HypopgStatus:
    """Return hypopg's status on the target."""
    return run_read(hypopg_status)


@dataclass
class HypotheticalComparison:
    """The plan of a statement without and with hypothetical indexes."""

    before: Plan
    after: Plan
    suggestions: list[IndexSuggestion]
    index_names: list[str]  # hypopg's names, e.g. <13337>btree_tasks_user_id
    statement: str

    @property
    def used(self) -> list[str]:
        return [name for name in self.index_names if self.after.uses_index(name)]

    @property
    def cost_ratio(self) -> float | None:
        if not self.after.total_cost:
            return None
        return self.before.total_cost / self.after.total_cost


def _with_hypothetical_indexes(
    conn: Connection, hypopg_schema: str, suggestions: list[IndexSuggestion], statement: str
) -> tuple[list[str], list[dict]]:
    """Return (hypopg index names, plan) for `statement` with the suggested indexes made up."""
    create = text(
        f"SELECT indexname FROM {qualified(conn, hypopg_schema, 'hypopg_create_index')}"
        "(:definition)"
    )
    reset = f"SELECT {qualified(conn, hypopg_schema, 'hypopg_reset')}()"
    savepoint = conn.begin_nested()
    try:
        names = [
            conn.execute(
                create, {"definition": suggestion.definition(concurrently=False)}
            ).scalar_one()
            for suggestion in suggestions
        ]
        plan = explain_json(conn, statement, explain_options(analyze=False))
        savepoint.commit()
        return names, plan
    except Exception:
        savepoint.rollback()
        raise
    finally:
        try:
            conn.exec_driver_sql(reset)
        except DBAPIError:
            # The backend may still hold hypothetical indexes: never reuse it.
            conn.invalidate()


def compare_with_hypothetical_indexes(
    query: str, values: dict[int, str], suggestions: list[IndexSuggestion]
) -> HypotheticalComparison:
    """Return the plan of `query` (values bound) without, then with, the suggested indexes."""
    check_explainable(query, analyze=False, generic=False, values=values)
    if not suggestions:
        raise ExplainRefused("There is no index to try: no suggestion for this statement.")

    def work(conn: Connection) -> HypotheticalComparison:
        status = hypopg_status(conn)
        if not status.installed:
            raise ExplainRefused(f"{status.sentence} Run: {status.fix}")
        statement = checked_statement(conn, query, values, analyze=False, generic=False)
        before = explain_json(conn, statement, explain_options(analyze=False))
        names, after = _with_hypothetical_indexes(
            conn, status.schema or "public", suggestions, statement
        )
        return HypotheticalComparison(
            plan_from_json(before), plan_from_json(after), suggestions, names, statement
        )

    return run_plain(work, query)


@dataclass(frozen=True)
class StatementRef:
    """A statement named the way people read it: its SQL on one line, cut short."""

    queryid: int
    label: str


@dataclass
class SuggestionForStatements:
    """One suggested index and the top statements it may help."""

    suggestion: IndexSuggestion
    statements: list[StatementRef] = field(default_factory=list)
    total_ms: float = 0.0

    @property
    def queryids(self) -> list[int]:
        return [statement.queryid for statement in self.statements]


def suggestions_for_statements(
    statements: Iterable[tuple[int, float, str]],
    catalog: list[IndexInfo],
    table_rows: dict[str, float | None],
    schema: str,
) -> list[SuggestionForStatements]:
    """Return the uncovered suggestions for (queryid, total ms, text) statements, merged."""
    tables = reflection().tables
    merged: dict[tuple[str, tuple[str, ...]], SuggestionForStatements] = {}
    for queryid, total_ms, query in statements:
        for suggestion in index_suggestions(query, catalog, table_rows, tables, schema):
            if suggestion.covered_by or suggestion.small_table:
                continue
            entry = merged.setdefault(
                (suggestion.table, suggestion.columns), SuggestionForStatements(suggestion)
            )
            entry.statements.append(StatementRef(queryid, statement_label(query)))
            entry.total_ms += total_ms
    return sorted(merged.values(), key=lambda entry: -entry.total_ms)
