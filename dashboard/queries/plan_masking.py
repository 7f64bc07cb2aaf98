"""Masked columns and plans: a statement that touches one gets a plain EXPLAIN, never ANALYZE.

An analyzed plan shows how many rows each step kept. With a filter on a masked column
(`WHERE api_token LIKE 'a%'`) those counts answer yes/no questions about its values, enough to
recover a token character by character; a plain EXPLAIN shows only estimates. A statement
touches a masked column when it names one anywhere (filter, join, sort, select list, a
subquery), joins on one (`USING`, `NATURAL`), or uses whole rows of a table that has one
(`t.*` or `t` inside an expression, `row(t.*)`, `to_jsonb(t)`); a `*` that only lists the
columns of the outermost SELECT is fine, its values are not shown.

Which columns are masked is the Data browser's rule (`dashboard.data.masking`): secret-looking
names, minus a table's `unmasked_columns`, plus its `hidden_columns`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Table

from dashboard.data.display import display_for
from dashboard.data.masking import looks_secret
from dashboard.queries.analysis import parsed_statements, tree_nodes
from dashboard.row_text import masked_names

WHY = (
    "the actual row counts of an analyzed plan would reveal its values (a LIKE filter "
    "recovers them character by character). Use EXPLAIN without ANALYZE: it shows the plan "
    "with estimates only."
)


def _strings(items: list[dict[str, Any]] | None) -> list[str]:
    return [item["String"]["sval"] for item in items or [] if "String" in item]


def _relations(tree: Any) -> Iterator[tuple[str | None, str, str]]:
    """Yield (schema, name, alias) of every table named in a FROM clause."""
    for node, fields in tree_nodes(tree):
        if node == "RangeVar":
            alias = (fields.get("alias") or {}).get("aliasname") or fields["relname"]
            yield fields.get("schemaname"), fields["relname"], alias


def _aliases(tree: Any) -> set[str]:
    """Return every name a row of the statement can be referred to by."""
    names = {alias for _, _, alias in _relations(tree)}
    for node, fields in tree_nodes(tree):
        if node in ("RangeSubselect", "RangeFunction", "JoinExpr") and fields.get("alias"):
            names.add(fields["alias"]["aliasname"])
        elif node == "CommonTableExpr":
            names.add(fields["ctename"])
    return names


def _projection_stars(statement: dict[str, Any]) -> set[int]:
    """Return the ids of `*` column references that only list the outermost SELECT's columns."""
    fields = statement.get("SelectStmt")
    if not fields or fields.get("op", "SETOP_NONE") != "SETOP_NONE":
        return set()
    if fields.get("distinctClause"):
        return set()
    stars = set()
    for target in fields.get("targetList", []):
        value = target.get("ResTarget", {}).get("val", {})
        if "ColumnRef" in value:
            stars.add(id(value["ColumnRef"]))
    return stars


def masked_column_refusal(query: str, tables: Mapping[str, Table], schema: str) -> str | None:
    """Return why EXPLAIN ANALYZE may not run `query` (it touches a masked column), or None."""
    stmts, _ = parsed_statements(query)
    if not stmts:
        return None
    known: dict[str, Table] = {}
    unknown = False
    for relation_schema, name, _ in _relations(stmts):
        if relation_schema in (None, schema) and name in tables:
            known[name] = tables[name]
        else:
            unknown = True  # a view, a CTE or another schema: its columns are not known here
    protected: dict[str, set[str]] = {}
    unmasked: set[str] = set()
    for name, table in known.items():
        unmasked |= set(display_for(name).unmasked_columns)
        columns = masked_names(table)
        if columns:
            protected[name] = columns

    def masked(column: str) -> str | None:
        """Return `table.column` when `column` is masked (the table when known), or None."""
        owner = next((t for t, columns in sorted(protected.items()) if column in columns), None)
        if owner:
            return f"{owner}.{column}"
        return column if looks_secret(column) and column not in unmasked else None

    benign_stars = _projection_stars(stmts[0]["stmt"])
    aliases = _aliases(stmts)
    whole_rows_matter = bool(protected) or unknown
    for node, fields in tree_nodes(stmts):
        names: list[str] = []
        if node == "ColumnRef":
            parts = fields.get("fields", [])
            names = _strings(parts)
            star = bool(parts) and "A_Star" in parts[-1]
            whole_row = (star and id(fields) not in benign_stars) or (
                len(parts) == 1 and not star and names[0] in aliases
            )
            if whole_row and whole_rows_matter:
                return (
                    "EXPLAIN ANALYZE is refused: the statement uses whole rows of a table with "
                    f"masked columns ({', '.join(sorted(protected)) or 'not known here'}), and "
                    + WHY
                )
            names = names[-1:]
        elif node == "JoinExpr":
            names = _strings(fields.get("usingClause"))
            if fields.get("isNatural") and whole_rows_matter:
                return (
                    "EXPLAIN ANALYZE is refused: a NATURAL JOIN compares every column of the "
                    "same name, masked ones included, and " + WHY
                )
        for name in names:
            column = masked(name)
            if column:
                return (
                    f"EXPLAIN ANALYZE is refused: the statement reads {column}, a masked "
                    f"column, and {WHY}"
                )
    return None
