"""ER diagrams read from the catalog: the whole schema, or one table and its neighbours.

The whole schema's diagram, laid out and drawn, is kept until the schema's fingerprint (the
reflection's) changes: at a thousand tables, reading, laying out and drawing it takes a
noticeable part of a second, and only the first view after a change pays for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from dashboard.schema import catalog
from dashboard.schema.erd_model import Diagram, DiagramColumn, DiagramEdge, DiagramTable
from dashboard.schema.page_parts import unknown_table
from dashboard.schema.reflection import reflection
from dashboard.target import run_read, target_schema


def _diagram(
    schema: str,
    column_rows: list[dict[str, Any]],
    edge_rows: list[dict[str, Any]],
    focus: str | None = None,
) -> Diagram:
    columns: dict[str, list[DiagramColumn]] = {}
    for row in column_rows:
        columns.setdefault(str(row["table_name"]), []).append(
            DiagramColumn(
                name=str(row["column_name"]),
                type=str(row["type"]),
                primary_key=bool(row["in_primary_key"]),
                foreign_key=bool(row["in_foreign_key"]),
            )
        )
    edges = tuple(
        DiagramEdge(
            name=str(row["name"]),
            source=str(row["source"]),
            source_columns=tuple(row["source_columns"]),
            target=str(row["target"]),
            target_columns=tuple(row["target_columns"]),
        )
        for row in edge_rows
        if row["source"] in columns and row["target"] in columns
    )
    tables = tuple(DiagramTable(name, tuple(cols)) for name, cols in sorted(columns.items()))
    return Diagram(schema=schema, tables=tables, edges=edges, focus=focus)


def _neighbourhood(conn: Connection, schema: str, name: str) -> Diagram:
    touching = catalog.diagram_foreign_keys(conn, schema, [name])
    names = {name} | {str(r["source"]) for r in touching} | {str(r["target"]) for r in touching}
    # Keys between two neighbours are drawn too: they explain how the neighbours relate. Only
    # the keys of these tables are read, not the whole schema's.
    near = catalog.diagram_foreign_keys(conn, schema, sorted(names))
    edges = [row for row in near if row["source"] in names and row["target"] in names]
    column_rows = catalog.diagram_columns(conn, schema, sorted(names))
    return _diagram(schema, column_rows, edges, focus=name)


def schema_diagram() -> Diagram:
    """Return the diagram of every table of the target schema and their foreign keys."""
    schema = target_schema()

    def read(conn: Connection) -> Diagram:
        edges = catalog.diagram_foreign_keys(conn, schema)
        return _diagram(schema, catalog.diagram_columns(conn, schema), edges)

    return run_read(read)


_lock = threading.Lock()
_kept: dict[str, object] = {}  # "key": (schema, fingerprint), "diagram", and one entry a drawing


def drawn_schema_diagram(draw: Callable[[Diagram], str], variant: str) -> tuple[Diagram, str]:
    """Return the whole schema's diagram and `draw(diagram)`, read once per schema fingerprint
    and drawn once per `variant` (one name per way of drawing)."""
    key = (target_schema(), reflection().fingerprint)
    with _lock:
        if _kept.get("key") != key:
            _kept.clear()  # one schema version at a time
            _kept["key"] = key
        diagram = _kept.get("diagram")
        drawn = _kept.get(f"drawn:{variant}")
    if not isinstance(diagram, Diagram):
        diagram = schema_diagram()
    if not isinstance(drawn, str):
        drawn = draw(diagram)
    with _lock:
        if _kept.get("key") == key:
            _kept["diagram"] = diagram
            _kept[f"drawn:{variant}"] = drawn
    return diagram, drawn


def forget_drawings() -> None:
    """Drop the kept drawings (tests)."""
    with _lock:
        _kept.clear()


def neighbourhood_diagram(name: str) -> Diagram:
    """Return the diagram of one table with the tables it references and that reference it."""
    schema = target_schema()

    def read(conn: Connection) -> Diagram:
        if catalog.table_oid(conn, schema, name) is None:
            raise unknown_table(name, schema)
        return _neighbourhood(conn, schema, name)

    return run_read(read)
