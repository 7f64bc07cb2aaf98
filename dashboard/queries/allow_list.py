"""The allow-list of EXPLAIN: every function a statement can make the server run, checked.

EXPLAIN ANALYZE executes the statement. Plain EXPLAIN only plans it, but planning evaluates
IMMUTABLE and STABLE functions whose arguments are constants (to fold them, and to estimate
how selective a condition is), so both are checked; plain EXPLAIN never evaluates a VOLATILE
function, so only EXPLAIN ANALYZE refuses those.

Every function the statement names is resolved in `pg_proc`: called directly, behind an
operator (`pg_operator.oprcode`), as an aggregate's support function, as the input or cast
function of a type of the application's own, in the views it reads (their definitions are
parsed and checked the same way), in the row-level security policies of the tables it reads,
in domain checks, and in the bodies of the SQL functions it calls. A function may run only when
it is IMMUTABLE or STABLE, not SECURITY DEFINER, written in C, internal or SQL (a PL/pgSQL or
other procedural function can run any SQL), not one that runs SQL given as text or reads a
table named by a value (`query_to_xml`, `ts_stat`, `dblink`…), and not one with an effect
outside the statement (`txid_current`, `pg_notify`, advisory locks, large objects…).

The parse tree gives a function's name and number of arguments, not their types: every
overload that could match must pass (when in doubt, refuse). This is the first of two fences:
EXPLAIN ANALYZE also runs as a read-only role (`dashboard.target.restricted_read`), so what
this list misses still cannot signal another backend, read server files or write.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from dashboard.queries.analysis import parsed_statements
from dashboard.suggested_sql import qualified_name, quote_identifier

TRUSTED_SCHEMAS = ("pg_catalog", "information_schema")
CHECKED_LANGUAGES = ("internal", "c", "sql")
TABLE_SAMPLERS = ("system", "bernoulli")
MAX_ROUNDS = 8  # views on views, functions calling functions: deeper than this is refused

RUNS_SQL_TEXT = "runs SQL given to it as text, or reads a whole table named by a value"
# Functions refused by name, whatever the catalog says of them, with the reason.
KNOWN_FUNCTIONS: dict[str, str] = {
    **{
        f"{kind}_to_{suffix}": RUNS_SQL_TEXT
        for kind in ("query", "cursor", "table", "schema", "database")
        for suffix in ("xml", "xmlschema", "xml_and_xmlschema")
    },
    "ts_stat": RUNS_SQL_TEXT,
    "txid_current": "assigns a transaction id that a rollback does not give back",
    "pg_current_xact_id": "assigns a transaction id that a rollback does not give back",
    "pg_notify": "sends a notification to listening sessions",
    "set_config": "changes a setting of the session",
    "nextval": "advances a sequence, and a rollback does not undo that",
    "setval": "sets a sequence, and a rollback does not undo that",
    "pg_sleep": "holds the connection idle",
    "pg_sleep_for": "holds the connection idle",
    "pg_sleep_until": "holds the connection idle",
    "pg_reload_conf": "reloads the server's configuration",
    "pg_rotate_logfile": "rotates the server's log file",
    "pg_switch_wal": "switches the server to a new WAL file",
    "pg_create_restore_point": "writes a restore point to the WAL",
    "pg_export_snapshot": "exports a snapshot to other sessions",
    "pg_import_system_collations": "creates collations",
    "pg_log_backend_memory_contexts": "writes to the server's log",
    "pg_promote": "promotes a standby server",
}
# Name prefixes refused the same way.
KNOWN_PREFIXES: dict[str, str] = {
    "dblink": "connects to another database and runs SQL given to it as text",
    "lo_": "works on large objects",
    "pg_advisory": "takes or releases an advisory lock that outlives the transaction",
    "pg_try_advisory": "takes an advisory lock that outlives the transaction",
    "pg_terminate_backend": "ends another session",
    "pg_cancel_backend": "cancels another session's statement",
    "pg_signal": "signals another server process",
    "pg_logical_": "writes to the WAL or reads a replication slot, which no rollback undoes",
    "pg_replication_": "changes replication state",
    "pg_stat_reset": "resets statistics",
    "pg_stat_statements_reset": "resets statistics",
    "pg_read_": "reads files on the server",
    "pg_ls_": "lists files on the server",
    "pg_stat_file": "reads files on the server",
    "pg_file_": "writes files on the server",
    "pg_backup_": "starts or stops a backup",
    "pg_wal_replay_": "pauses or resumes WAL replay",
    "pg_drop_replication_slot": "drops a replication slot",
    "pg_create_": "creates replication slots",
    "pg_copy_": "copies replication slots",
}


@dataclass(frozen=True)
class Call:
    """A function or operator named in SQL text, and where that text came from."""

    schema: str | None
    name: str
    arity: int | None  # arguments given (functions), 2 or 1 (operators), None: unknown
    where: str  # "the statement", "the view public.v", …


@dataclass
class Calls:
    """What one piece of SQL makes the server run, still to be resolved in the catalog."""

    functions: set[Call] = field(default_factory=set)
    operators: set[Call] = field(default_factory=set)
    relations: dict[str, str] = field(default_factory=dict)  # quoted name -> where
    types: dict[str, str] = field(default_factory=dict)  # quoted name -> where
    samplers: set[Call] = field(default_factory=set)
    function_oids: dict[int, str] = field(default_factory=dict)  # oid -> where
    unparsed: list[str] = field(default_factory=list)  # where text did not parse

    def merge(self, other: Calls) -> None:
        self.functions |= other.functions
        self.operators |= other.operators
        self.relations.update(other.relations)
        self.types.update(other.types)
        self.samplers |= other.samplers
        self.function_oids.update(other.function_oids)
        self.unparsed.extend(other.unparsed)

    def empty(self) -> bool:
        return not (
            self.functions
            or self.operators
            or self.relations
            or self.types
            or self.samplers
            or self.function_oids
            or self.unparsed
        )


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [item.get("String", {}).get("sval", "") for item in items or []]


def _split(names: list[str]) -> tuple[str | None, str]:
    return (names[-2] if len(names) > 1 else None), names[-1]


def _operators_of(fields: dict[str, Any]) -> list[tuple[list[str], int]]:
    """Return (operator name parts, arity) for one A_Expr."""
    kind = fields.get("kind", "")
    arity = 2 if fields.get("lexpr") is not None else 1
    if kind.startswith("AEXPR_BETWEEN") or kind.startswith("AEXPR_NOT_BETWEEN"):
        return [([symbol], 2) for symbol in (">=", "<=", ">", "<")]
    return [(_names(fields.get("name")), arity)]


def _dicts(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (node type or "", fields) for every dict below `tree`, wrapped nodes or not.

    pglast's JSON wraps most nodes as `{"NodeType": {fields}}` but leaves some fields bare
    (a TypeCast's `typeName`, an UPDATE's `relation`), so every dict is visited.
    """
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        kind, item = stack.pop()
        if isinstance(item, list):
            stack.extend((kind, element) for element in reversed(item))
        elif isinstance(item, dict):
            yield kind, item
            for key, value in item.items():
                wrapped = key[:1].isupper() and isinstance(value, dict)
                stack.append((key if wrapped else "", value))


def calls_in(tree: Any, where: str) -> Calls:
    """Return every function, operator, relation and type named in a parse tree."""
    calls = Calls()
    for node, fields in _dicts(tree):
        if "relname" in fields:  # a RangeVar, wrapped or not
            relation, schema = fields["relname"], fields.get("schemaname")
            quoted = qualified_name(schema, relation) if schema else quote_identifier(relation)
            calls.relations.setdefault(quoted, where)
        elif "names" in fields and "typemod" in fields:  # a TypeName, wrapped or not
            schema, name = _split(_names(fields.get("names")))
            if schema not in TRUSTED_SCHEMAS and name:
                quoted = qualified_name(schema, name) if schema else quote_identifier(name)
                calls.types.setdefault(quoted, where)
        elif node == "FuncCall":
            schema, name = _split(_names(fields.get("funcname")))
            arity = 0 if fields.get("agg_star") else len(fields.get("args", []))
            calls.functions.add(Call(schema, name, arity, where))
        elif node == "A_Expr":
            for names, arity in _operators_of(fields):
                calls.operators.add(Call(*_split(names), arity, where))
        elif node == "SubLink" and fields.get("operName"):
            calls.operators.add(Call(*_split(_names(fields["operName"])), 2, where))
        elif node == "SortBy" and fields.get("useOp"):
            calls.operators.add(Call(*_split(_names(fields["useOp"])), 2, where))
        elif node == "CaseExpr" and fields.get("arg"):
            calls.operators.add(Call(None, "=", 2, where))
        elif node == "RangeTableSample":
            schema, name = _split(_names(fields.get("method")))
            calls.samplers.add(Call(schema, name, None, where))
    return calls


def _calls_in_text(sql: str, where: str) -> Calls:
    stmts, _ = parsed_statements(sql)
    if stmts is None:
        return Calls(unparsed=[where])
    return calls_in(stmts, where)


# ---- the catalog ---------------------------------------------------------------------------

PROCEDURES_SQL = text(
    """
    SELECT
        p.oid,
        n.nspname AS schema,
        p.proname AS name,
        pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
        p.provolatile AS volatility,
        p.prosecdef AS security_definer,
        l.lanname AS language,
        p.pronargs AS arg_count,
        p.pronargdefaults AS default_count,
        p.provariadic <> 0 AS variadic,
        n.nspname = ANY (current_schemas(true)) AS on_search_path,
        CASE WHEN l.lanname = 'sql' THEN p.prosrc END AS source,
        CASE
            WHEN l.lanname = 'sql' AND p.prosrc = '' THEN pg_catalog.pg_get_functiondef(p.oid)
        END AS definition,
        ARRAY[
            a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
            a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn
        ]::oid[] AS support
    FROM pg_catalog.pg_proc AS p
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_language AS l
        ON l.oid = p.prolang
    LEFT JOIN pg_catalog.pg_aggregate AS a
        ON a.aggfnoid = p.oid
    WHERE p.proname = ANY (CAST(:names AS text[]))
       OR p.oid = ANY (CAST(:oids AS oid[]))
    """
)

OPERATORS_SQL = text(
    """
    SELECT
        o.oprname AS name,
        n.nspname AS schema,
        o.oprkind AS kind,
        o.oprcode::oid AS function_oid,
        n.nspname = ANY (current_schemas(true)) AS on_search_path
    FROM pg_catalog.pg_operator AS o
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = o.oprnamespace
    WHERE o.oprname = ANY (CAST(:names AS text[]))
    """
)

RELATIONS_SQL = text(
    """
    SELECT
        r.name AS requested,
        c.oid::regclass::text AS relation,
        CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS view_definition,
        ARRAY(
            SELECT pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
            FROM pg_catalog.pg_policy AS pol
            WHERE pol.polrelid = c.oid
              AND pol.polqual IS NOT NULL
        ) AS policies
    FROM unnest(CAST(:names AS text[])) AS r(name)
    JOIN pg_catalog.pg_class AS c
        ON c.oid = pg_catalog.to_regclass(r.name)
    """
)

TYPES_SQL = text(
    """
    SELECT
        r.name AS requested,
        t.oid::regtype::text AS type_name,
        n.nspname AS schema,
        t.typinput::oid AS input_function,
        ARRAY(
            SELECT c.castfunc
            FROM pg_catalog.pg_cast AS c
            WHERE c.casttarget = t.oid
              AND c.castfunc <> 0
        ) AS cast_functions,
        ARRAY(
            SELECT pg_catalog.pg_get_constraintdef(con.oid)
            FROM pg_catalog.pg_constraint AS con
            WHERE con.contypid = t.oid
              AND con.contype = 'c'
        ) AS checks
    FROM unnest(CAST(:names AS text[])) AS r(name)
    JOIN pg_catalog.pg_type AS t
        ON t.oid = pg_catalog.to_regtype(r.name)
    JOIN pg_catalog.pg_namespace AS n
        ON n.oid = t.typnamespace
    """
)


def known_reason(name: str) -> str | None:
    """Return why a function of this name is refused whatever its catalog entry, or None."""
    if name in KNOWN_FUNCTIONS:
        return KNOWN_FUNCTIONS[name]
    return next((why for prefix, why in KNOWN_PREFIXES.items() if name.startswith(prefix)), None)


def _procedure_refusal(row: Any, executes: bool) -> str | None:
    """Return why this function may not run (a clause after "which"), or None."""
    if row.volatility == "v" and not executes:
        return None  # planning never evaluates a volatile function
    reason = known_reason(row.name)
    if reason is None and row.name == "ts_rewrite" and row.arg_count == 2:
        reason = RUNS_SQL_TEXT
    if reason:
        return reason
    if row.security_definer:
        return "is SECURITY DEFINER: it runs with its owner's rights"
    if row.volatility == "v":
        return (
            "is VOLATILE: it may change something, and only IMMUTABLE and STABLE functions may run"
        )
    if row.language not in CHECKED_LANGUAGES:
        return (
            f"is written in {row.language} and can run any SQL, so the console cannot check "
            "what it does"
        )
    return None


def _accepts(row: Any, arity: int | None) -> bool:
    if arity is None:
        return True
    fewest = row.arg_count - row.default_count
    if row.variadic:
        return arity >= fewest - 1
    return fewest <= arity <= row.arg_count


def _through(what: str, where: str) -> str:
    """Return `what`, saying which SQL led to it unless that is the statement itself."""
    return what if where == "the statement" else f"{what} (through {where})"


def _refusal(mode: str, where: str, label: str, reason: str) -> str:
    """Return the sentence of a refusal: what is refused, who calls what, and why."""
    if mode == "analyze":
        return f"EXPLAIN ANALYZE is refused: {where} calls {label}, which {reason}."
    return f"EXPLAIN is refused: planning may evaluate {label} ({where} calls it), which {reason}."


@dataclass
class _Checked:
    relations: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    functions: set[int] = field(default_factory=set)
    names: set[tuple[str | None, str, int | None]] = field(default_factory=set)


def _check_round(conn: Connection, calls: Calls, mode: str, checked: _Checked) -> str | Calls:
    """Return a refusal, or the calls found one level further down (views, bodies, …)."""
    executes = mode == "analyze"
    found = Calls()
    if calls.unparsed:
        where = calls.unparsed[0]
        return f"EXPLAIN is refused: {where} could not be parsed, so it cannot be checked."
    for sampler in calls.samplers:
        if sampler.schema not in (None, "pg_catalog") or sampler.name not in TABLE_SAMPLERS:
            return _refusal(
                mode,
                sampler.where,
                f"the sampling method {sampler.name}",
                "the console does not know",
            )
    relations = [name for name in calls.relations if name not in checked.relations]
    checked.relations.update(relations)
    if relations:
        for row in conn.execute(RELATIONS_SQL, {"names": relations}):
            if row.view_definition:
                where = _through(f"the view {row.relation}", calls.relations[row.requested])
                found.merge(_calls_in_text(row.view_definition, where))
            for policy in row.policies:
                where = _through(
                    f"a row-level security policy of {row.relation}", calls.relations[row.requested]
                )
                found.merge(_calls_in_text(f"SELECT ({policy})", where))
    types = [name for name in calls.types if name not in checked.types]
    checked.types.update(types)
    function_oids = dict(calls.function_oids)
    if types:
        for row in conn.execute(TYPES_SQL, {"names": types}):
            if row.schema in TRUSTED_SCHEMAS:
                continue
            where = _through(f"the type {row.type_name}", calls.types[row.requested])
            for oid in [row.input_function, *row.cast_functions]:
                function_oids.setdefault(int(oid), where)
            for check in row.checks:
                found.merge(_calls_in_text(f"SELECT {check.removeprefix('CHECK ')}", where))
    if calls.operators:
        operators = list(
            conn.execute(OPERATORS_SQL, {"names": sorted({c.name for c in calls.operators})})
        )
        for call in calls.operators:
            kind = "b" if call.arity == 2 else "l"
            candidates = [
                row
                for row in operators
                if row.name == call.name
                and row.kind == kind
                and (row.schema == call.schema if call.schema else row.on_search_path)
            ]
            for row in candidates:
                where = f"the operator {call.name} (in {call.where})"
                function_oids.setdefault(int(row.function_oid), where)
    function_oids = {
        oid: where for oid, where in function_oids.items() if oid not in checked.functions
    }
    names = [c for c in calls.functions if (c.schema, c.name, c.arity) not in checked.names]
    checked.names.update((c.schema, c.name, c.arity) for c in names)
    if not names and not function_oids:
        return found
    rows = list(
        conn.execute(
            PROCEDURES_SQL,
            {"names": sorted({c.name for c in names}), "oids": sorted(function_oids)},
        )
    )
    by_oid = {int(row.oid): row for row in rows}
    to_check: list[tuple[Any, str]] = [
        (by_oid[oid], where) for oid, where in function_oids.items() if oid in by_oid
    ]
    for call in sorted(names, key=lambda c: (c.name, c.arity or 0)):
        named = [
            row
            for row in rows
            if row.name == call.name
            and (row.schema == call.schema if call.schema else row.on_search_path)
        ]
        if not named:
            label = f"{call.schema + '.' if call.schema else ''}{call.name}()"
            return _refusal(
                mode, call.where, label, "is not in the catalog, so it cannot be checked"
            )
        matching = [row for row in named if _accepts(row, call.arity)] or named
        to_check.extend((row, call.where) for row in matching)
    for row, where in to_check:
        oid = int(row.oid)
        if oid in checked.functions:
            continue
        checked.functions.add(oid)
        reason = _procedure_refusal(row, executes)
        label = f"{row.name}({row.arguments})"
        if reason:
            return _refusal(mode, where, label, reason)
        if row.volatility == "v":
            continue  # plain EXPLAIN: never evaluated, so its body does not matter either
        for support in row.support or []:
            if support and int(support) not in checked.functions:
                found.function_oids.setdefault(int(support), f"the aggregate {label}")
        if row.language == "sql" and row.schema not in TRUSTED_SCHEMAS:
            body = row.source or row.definition or ""
            where = _through(f"the function {row.schema}.{label}", where)
            found.merge(_calls_in_text(body, where))
    return found


def allow_list_refusal(conn: Connection, query: str, *, analyze: bool) -> str | None:
    """Return why EXPLAIN (ANALYZE when `analyze`) may not run `query`, or None when it may."""
    mode = "analyze" if analyze else "plain"
    pending = _calls_in_text(query, "the statement")
    checked = _Checked()
    for _ in range(MAX_ROUNDS):
        if pending.empty():
            return None
        outcome = _check_round(conn, pending, mode, checked)
        if isinstance(outcome, str):
            return outcome
        pending = outcome
    if pending.empty():
        return None
    return (
        "EXPLAIN is refused: its views and functions nest too deeply to be checked "
        f"(more than {MAX_ROUNDS} levels)."
    )
