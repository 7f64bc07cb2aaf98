"""What an entity-relationship diagram shows: tables, their columns and foreign keys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiagramColumn:
    """One column as the diagram shows it."""

    name: str
    type: str
    primary_key: bool = False
    foreign_key: bool = False


@dataclass(frozen=True)
class DiagramTable:
    """One box: a table and its columns."""

    name: str
    columns: tuple[DiagramColumn, ...] = ()


@dataclass(frozen=True)
class DiagramEdge:
    """One foreign key: `source` references `target`."""

    name: str
    source: str
    source_columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Diagram:
    """The tables and foreign keys to draw; `focus` is the table a neighbourhood centres on."""

    schema: str
    tables: tuple[DiagramTable, ...]
    edges: tuple[DiagramEdge, ...]
    focus: str | None = None
