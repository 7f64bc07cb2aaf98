"""What deleting rows does to other tables: ON DELETE CASCADE, SET NULL / SET DEFAULT, and
the foreign keys that block it.

From the reflected foreign keys, for every table that refers to the deleted rows (and, through
CASCADE, to the rows that deletes in turn), the SQL predicate that selects the rows affected.
The delete's preview counts them per table; the write door reads the rows a cascade removes
into the audit trail's before-image and refuses the delete when their number is no longer the
one the preview showed. Recursion stops after MAX_DEPTH steps (a self-referencing table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Table

from dashboard.data.links import children_of, referred
from dashboard.row_text import run_text
from dashboard.suggested_sql import qualified_name, quote_identifier

MAX_DEPTH = 6
ACTIONS = {"CASCADE": "delete", "SET NULL": "set null", "SET DEFAULT": "set default"}


@dataclass(frozen=True)
class Effect:
    """The rows of one table that a delete removes, changes or is blocked by."""

    table: str
    action: str  # delete, set null, set default, blocked
    predicate: str  # selects those rows of `table` (SQL, unqualified columns)
    via: tuple[str, ...]  # the foreign keys followed, e.g. `messages.conversation_id`
    columns: tuple[str, ...] = ()  # set null / set default: the columns changed

    @property
    def label(self) -> str:
        return {
            "delete": "deleted with it (ON DELETE CASCADE)",
            "set null": f"{', '.join(self.columns)} set to NULL (ON DELETE SET NULL)",
            "set default": f"{', '.join(self.columns)} set to default (ON DELETE SET DEFAULT)",
            "blocked": "refer to it: the delete fails while they exist (ON DELETE NO ACTION)",
        }[self.action]


def _action(ondelete: str | None) -> str:
    return ACTIONS.get((ondelete or "").upper(), "blocked")


def delete_effects(tables: Mapping[str, Table], root: Table, root_predicate: str) -> list[Effect]:
    """Return the effects of deleting the rows of `root` that `root_predicate` selects, one per
    (table, action), paths to the same table joined with OR; cascades first, in the order found."""
    found: dict[tuple[str, str], tuple[list[str], list[str], tuple[str, ...]]] = {}
    # (parent table, predicate selecting its deleted rows, depth)
    pending: list[tuple[Table, str, int]] = [(root, root_predicate, 0)]
    while pending:
        parent, predicate, depth = pending.pop(0)
        if depth >= MAX_DEPTH:
            continue
        alias = f"d{depth}"
        source = qualified_name(str(parent.schema), parent.name)
        for fk in children_of(parent, tables):
            target = referred(fk)
            if target is None:
                continue
            _, local, remote = target
            child = fk.table
            action = _action(fk.ondelete)
            left = ", ".join(quote_identifier(name) for name in local)
            selected = ", ".join(f"{alias}.{quote_identifier(name)}" for name in remote)
            if len(local) > 1:
                left, selected = f"({left})", selected
            child_predicate = (
                f"{left} IN (SELECT {selected} FROM {source} AS {alias} WHERE {predicate})"
            )
            via = f"{child.name}.{', '.join(local)} → {parent.name}"
            entry = found.setdefault((child.name, action), ([], [], ()))
            entry[0].append(child_predicate)
            entry[1].append(via)
            if action in ("set null", "set default"):
                columns = tuple(dict.fromkeys((*entry[2], *local)))
                found[(child.name, action)] = (entry[0], entry[1], columns)
            if action == "delete":
                pending.append((child, child_predicate, depth + 1))
    effects = []
    for (table, action), (predicates, vias, columns) in found.items():
        joined = (
            predicates[0] if len(predicates) == 1 else " OR ".join(f"({p})" for p in predicates)
        )
        effects.append(Effect(table, action, joined, tuple(dict.fromkeys(vias)), columns))
    order = {"delete": 0, "set null": 1, "set default": 1, "blocked": 2}
    return sorted(effects, key=lambda effect: order[effect.action])


def effect_count_sql(effect: Effect, tables: Mapping[str, Table], limit: int) -> str:
    """Return the statement counting an effect's rows, stopping after `limit` + 1."""
    table = tables[effect.table]
    source = qualified_name(str(table.schema), table.name)
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {effect.predicate} "
        f"LIMIT {int(limit) + 1}) AS affected"
    )


def effect_counts(
    conn: Connection, effects: list[Effect], tables: Mapping[str, Table], limit: int
) -> dict[tuple[str, str], int]:
    """Return how many rows each effect touches (at most limit + 1), read on `conn`."""
    return {
        (effect.table, effect.action): int(
            run_text(conn, effect_count_sql(effect, tables, limit))[0][0]
        )
        for effect in effects
    }
