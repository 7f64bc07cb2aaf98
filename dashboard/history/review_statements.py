"""The statements of a revision's SQL with their positions, and helpers to name and show them."""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast as pg

STATEMENT_CHARS = 400


@dataclass(frozen=True)
class Statement:
    text: str
    start: int
    end: int
    node: pg.Node | None


def split_statements(sql: str) -> list[Statement]:
    """Return the statements of `sql` with their character offsets (nodes when parsable)."""
    slices = pglast.parser.split(sql, with_parser=True, only_slices=True)
    statements = []
    for piece in slices:
        text = sql[piece]
        try:
            parsed = pglast.parse_sql(text)
            node = parsed[0].stmt if parsed else None
        except pglast.parser.ParseError:
            node = None
        statements.append(Statement(text.strip(), piece.start, piece.stop, node))
    return statements


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= STATEMENT_CHARS else text[: STATEMENT_CHARS - 1] + "…"


def _touches_version_table(text: str, version_table: str) -> bool:
    return version_table.lower() in text.lower()


def _relname(relation: pg.RangeVar | None) -> str:
    if relation is None:
        return ""
    return (
        f"{relation.schemaname}.{relation.relname}"
        if relation.schemaname
        else str(relation.relname)
    )


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1]
