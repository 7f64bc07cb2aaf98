"""What a statement is, read from its parse tree (pglast): kind, EXPLAIN ANALYZE shape, columns.

The tree is pglast's JSON form (plain dicts and lists), walked generically: every node is a
one-key dict `{"NodeType": {fields}}`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql, parser
from pglast.stream import RawStream

EXPLAINABLE = {
    "SelectStmt": "SELECT",
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
}
RANGE_OPERATORS = {"<", "<=", ">", ">="}


@dataclass(frozen=True)
class StatementShape:
    """The kind of a statement and whether it may be explained, or explained with ANALYZE."""

    kind: str | None  # SELECT, INSERT, UPDATE, DELETE, MERGE, "other", or None if unparsed
    explainable: bool
    analyze_refusal: str | None  # why EXPLAIN ANALYZE is refused; None when it is allowed
    parse_error: str | None = None
    # It writes or locks rows (INSERT, UPDATE, DELETE, MERGE, a WITH that modifies data, FOR
    # UPDATE/SHARE): even a plain EXPLAIN needs the rights to do so, which the reader lacks.
    writes: bool = False


def tree_nodes(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (node type, fields) for every node below `tree`, depth first."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key[:1].isupper() and isinstance(value, dict):
                yield key, value
            yield from tree_nodes(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from tree_nodes(item)


@functools.lru_cache(maxsize=1024)
def parsed_statements(query: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Return (the statements of `query` as pglast's JSON tree, None) or (None, parse error)."""
    try:
        return json.loads(parser.parse_sql_json(query)).get("stmts", []), None
    except Exception as exc:
        return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _statement_node(stmt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((name, fields),) = stmt["stmt"].items()
    return name, fields


def _modifying_cte(fields: dict[str, Any]) -> str | None:
    """Return the kind of the first WITH query below `fields` that modifies data, or None."""
    for node, node_fields in tree_nodes(fields):
        if node == "CommonTableExpr":
            ((cte_kind, _),) = node_fields.get("ctequery", {"SelectStmt": {}}).items()
            if cte_kind != "SelectStmt":
                return str(EXPLAINABLE.get(cte_kind, cte_kind))
    return None


def _locks_rows(fields: dict[str, Any]) -> bool:
    return any(node == "LockingClause" for node, _ in tree_nodes(fields))


def _analyze_refusal(name: str, fields: dict[str, Any]) -> str | None:
    if name != "SelectStmt":
        return (
            f"EXPLAIN ANALYZE executes the statement, and this is {EXPLAINABLE.get(name, name)}: "
            "only a plain SELECT may run. Use EXPLAIN without ANALYZE to see its plan."
        )
    if fields.get("intoClause"):
        return "SELECT … INTO creates a table, so it may not run under EXPLAIN ANALYZE."
    if _locks_rows(fields):
        return "It locks rows (FOR UPDATE/SHARE), so it may not run under EXPLAIN ANALYZE."
    modifying = _modifying_cte(fields)
    if modifying:
        return (
            f"Its WITH clause modifies data ({modifying}), so it may not run under EXPLAIN ANALYZE."
        )
    return None


def explained_statement(query: str) -> str | None:
    """Return the statement inside `EXPLAIN (…) <statement>`, or None when `query` is not one."""
    try:
        stmts = parse_sql(query)
    except Exception:  # pglast raises several error types; not an EXPLAIN we can read
        return None
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.ExplainStmt):
        return None
    explained = stmts[0].stmt.query
    return RawStream()(explained) if explained is not None else None


def named_relations(query: str) -> list[tuple[str | None, str]]:
    """Return (schema or None, name) of every relation the statement reads: its tables and
    views, not its own WITH queries (nothing for a text that does not parse)."""
    stmts, _ = parsed_statements(query)
    nodes = list(tree_nodes(stmts or []))
    own = {fields["ctename"] for node, fields in nodes if node == "CommonTableExpr"}
    found = {
        (fields.get("schemaname"), fields["relname"])
        for node, fields in nodes
        if node == "RangeVar" and (fields.get("schemaname") or fields["relname"] not in own)
    }
    return sorted(found, key=lambda pair: (pair[0] or "", pair[1]))


def statement_count(query: str) -> int | None:
    """Return how many statements `query` holds, or None when it does not parse."""
    stmts, _ = parsed_statements(query)
    return None if stmts is None else len(stmts)


def statement_shape(query: str) -> StatementShape:
    """Return what kind of statement `query` is and whether EXPLAIN (ANALYZE) may run it."""
    stmts, error = parsed_statements(query)
    if stmts is None:
        return StatementShape(
            None,
            False,
            "The statement could not be parsed, so it cannot be checked to be a plain SELECT.",
            error,
        )
    if len(stmts) != 1:
        return StatementShape("other", False, "Only a single statement can be explained.")
    name, fields = _statement_node(stmts[0])
    if name not in EXPLAINABLE:
        return StatementShape(
            "other",
            False,
            "Only SELECT, INSERT, UPDATE, DELETE and MERGE statements have a plan to show.",
        )
    writes = name != "SelectStmt" or _locks_rows(fields) or _modifying_cte(fields) is not None
    return StatementShape(EXPLAINABLE[name], True, _analyze_refusal(name, fields), writes=writes)


# ---- columns a statement filters, joins and sorts on (for index suggestions) -------------------


@dataclass(frozen=True)
class RelationRef:
    """A table named in a FROM clause (as written: schema may be None)."""

    schema: str | None
    name: str


@dataclass(frozen=True)
class ColumnUse:
    """A column reference and how the statement uses it."""

    qualifier: str | None  # the alias or table name written before the column, if any
    column: str
    role: str  # "equality", "range", "sort" or "join"


@dataclass
class Scope:
    """One SELECT/UPDATE/DELETE level: the relations in its FROM and the columns it uses."""

    relations: dict[str, RelationRef] = field(default_factory=dict)  # by alias or bare name
    uses: list[ColumnUse] = field(default_factory=list)


def _column(node: Any) -> tuple[str | None, str] | None:
    """Return (qualifier, column) when `node` is a plain column reference."""
    if not isinstance(node, dict) or "ColumnRef" not in node:
        return None
    parts = node["ColumnRef"].get("fields", [])
    names = [part.get("String", {}).get("sval") for part in parts]
    if not names or any(name is None for name in names):
        return None  # `*` or something exotic
    if len(names) == 1:
        return None, names[0]
    return names[-2], names[-1]


def _mentions_column(node: Any) -> bool:
    return any(name == "ColumnRef" for name, _ in tree_nodes(node))


def _classify(expr: Any, uses: list[ColumnUse]) -> None:
    """Collect the indexable column uses of a WHERE/ON expression."""
    if not isinstance(expr, dict):
        return
    if "BoolExpr" in expr:
        if expr["BoolExpr"].get("boolop") == "AND_EXPR":
            for arg in expr["BoolExpr"].get("args", []):
                _classify(arg, uses)
        return  # OR/NOT: a single index rarely serves them; stay quiet
    if "NullTest" in expr:
        column = _column(expr["NullTest"].get("arg"))
        if column and expr["NullTest"].get("nulltesttype") == "IS_NULL":
            uses.append(ColumnUse(*column, "equality"))
        return
    if "SubLink" in expr:
        link = expr["SubLink"]
        column = _column(link.get("testexpr"))
        if column and link.get("subLinkType") == "ANY_SUBLINK":
            uses.append(ColumnUse(*column, "join"))
        return
    if "A_Expr" not in expr:
        return
    a_expr = expr["A_Expr"]
    kind = a_expr.get("kind")
    operator = "".join(part.get("String", {}).get("sval", "") for part in a_expr.get("name", []))
    left, right = a_expr.get("lexpr"), a_expr.get("rexpr")
    left_column, right_column = _column(left), _column(right)
    if kind == "AEXPR_OP":
        if left_column and right_column:
            if operator == "=":
                uses.append(ColumnUse(*left_column, "join"))
                uses.append(ColumnUse(*right_column, "join"))
            return
        if right_column and not left_column:
            left_column, right = right_column, left
            operator = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(operator, operator)
        if not left_column or _mentions_column(right):
            return
        if operator == "=":
            uses.append(ColumnUse(*left_column, "equality"))
        elif operator in RANGE_OPERATORS:
            uses.append(ColumnUse(*left_column, "range"))
    elif kind == "AEXPR_IN" and left_column and operator == "=":
        uses.append(ColumnUse(*left_column, "equality"))
    elif kind in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM") and left_column:
        uses.append(ColumnUse(*left_column, "range"))


def _add_relation(item: Any, scope: Scope, cte_names: set[str]) -> None:
    if not isinstance(item, dict):
        return
    if "RangeVar" in item:
        var = item["RangeVar"]
        if not var.get("schemaname") and var["relname"] in cte_names:
            return
        alias = (var.get("alias") or {}).get("aliasname") or var["relname"]
        scope.relations[alias] = RelationRef(var.get("schemaname"), var["relname"])
    elif "JoinExpr" in item:
        join = item["JoinExpr"]
        _add_relation(join.get("larg"), scope, cte_names)
        _add_relation(join.get("rarg"), scope, cte_names)
        _classify(join.get("quals"), scope.uses)


def statement_scopes(query: str) -> list[Scope]:
    """Return each SELECT/UPDATE/DELETE level of the statement with its tables and column uses."""
    stmts, _ = parsed_statements(query)
    if not stmts:
        return []
    cte_names = {
        fields["ctename"] for name, fields in tree_nodes(stmts) if name == "CommonTableExpr"
    }
    scopes = []
    for name, fields in tree_nodes(stmts):
        if name not in ("SelectStmt", "UpdateStmt", "DeleteStmt"):
            continue
        scope = Scope()
        if fields.get("relation"):
            _add_relation({"RangeVar": fields["relation"]}, scope, cte_names)
        for item in fields.get("fromClause", []) + fields.get("usingClause", []):
            _add_relation(item, scope, cte_names)
        _classify(fields.get("whereClause"), scope.uses)
        for sort in fields.get("sortClause", []):
            column = _column(sort.get("SortBy", {}).get("node"))
            if column:
                scope.uses.append(ColumnUse(*column, "sort"))
        if scope.relations:
            scopes.append(scope)
    return scopes
