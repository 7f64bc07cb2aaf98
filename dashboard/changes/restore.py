"""Putting one end-user's rows back from a branch: the plan of a restore.

The rows come from the comparison (dashboard/users/compare.py): each selected row carries its
key and both sides' fingerprints as they were compared, signed. The branch's row is read again
(it must still be the one compared), and becomes one change for the write door
(dashboard/target_write.py): a row deleted since is inserted again with all its values
(`ON CONFLICT DO NOTHING`: a row with its key made since is reported, not overwritten); a row
changed since is set back to the branch's values, guarded by the fingerprint the target's row
had at the comparison (changed again since: skipped and reported). Tables run in dependency
order, parents first (a conversation before its messages). Rows added since are left alone.

The plan depends only on the selection and the branch, so the statements built again for the
apply are the ones the preview showed (the door checks their digest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Table, tuple_

from dashboard.data.links import referred
from dashboard.row_text import TextRow, as_text, fix_text_output, text_rows
from dashboard.users.compare import (
    Reader,
    Selected,
    TableComparison,
    branch_columns,
    comparable_tables,
)
from dashboard.users.ownership import OwnershipMap, rows_of_user
from dashboard.write_plan import RowChange, WritePlan


class RestoreRefused(ValueError):
    """A selection that cannot be restored, with the sentence saying why."""


@dataclass(frozen=True)
class RestoreItem:
    """One row of a restore as the preview lists it."""

    table: str
    key_label: str
    kind: str  # deleted (inserted again) or changed (set back)


@dataclass
class Restore:
    plan: WritePlan
    items: list[RestoreItem]


def dependency_order(names: list[str], tables: Mapping[str, Table]) -> list[str]:
    """Return `names` with every table after the tables it refers to (ties keep their order)."""
    parents: dict[str, set[str]] = {}
    for name in names:
        found = set()
        for fk in tables[name].foreign_key_constraints:
            target = referred(fk)
            if target is not None and target[0].name in names and target[0].name != name:
                found.add(target[0].name)
        parents[name] = found
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:  # a cycle: the rest in the order given
            ordered += [n for n in names if n not in ordered]
            break
        ordered.append(ready[0])
    return ordered


def restore_plan(
    owners: OwnershipMap,
    subject: str,
    key_value: object,
    read_branch: Reader,
    selected: list[Selected],
    context: Mapping[str, str],
) -> Restore:
    """Return the plan that puts the selected rows back (RestoreRefused with a sentence)."""
    if not selected:
        raise RestoreRefused("Select the rows (or whole tables) to put back.")
    unique = list({(s.table, s.key): s for s in selected}.values())
    names = list(dict.fromkeys(s.table for s in unique))
    unknown = [name for name in names if name not in owners.owned]
    if unknown:
        raise RestoreRefused(f"“{unknown[0]}” is not a table of this user's data.")
    schema = str(owners.users_table.schema)
    items = {
        item.table: item
        for item in comparable_tables(
            owners, branch_columns(read_branch, schema, list(owners.owned))
        )
    }
    for name in names:
        if items[name].problem:
            raise RestoreRefused(f"“{name}” cannot be restored: {items[name].problem}")
    rows = _branch_rows(owners, key_value, read_branch, [items[n] for n in names], unique)
    changes: list[RowChange] = []
    listed: list[RestoreItem] = []
    for name in dependency_order(names, owners.tables):
        item = items[name]
        table = owners.tables[name]
        computed = {column.name for column in table.columns if column.computed is not None}
        for chosen in (s for s in unique if s.table == name):
            row = rows.get((name, chosen.key))
            label = ", ".join(f"{n} = {v}" for n, v in chosen.key)
            if row is None or row.fingerprint != chosen.branch:
                raise RestoreRefused(
                    f"The row {label} of “{name}” in the branch is not the one compared (it "
                    "changed or went since). Compare again."
                )
            values = tuple((n, row.values[n]) for n in item.columns if n not in computed)
            if not chosen.now:
                changes.append(
                    RowChange(name, "insert", key=chosen.key, values=values, note="deleted since")
                )
                listed.append(RestoreItem(name, label, "deleted"))
            else:
                changes.append(
                    RowChange(
                        name,
                        "update",
                        key=chosen.key,
                        values=tuple((n, v) for n, v in values if n not in item.key),
                        guard=chosen.now,
                        guard_columns=tuple(item.columns),
                        note="changed since",
                    )
                )
                listed.append(RestoreItem(name, label, "changed"))
    plan = WritePlan("restore", subject, tuple(changes), dict(context))
    return Restore(plan, listed)


def _branch_rows(
    owners: OwnershipMap,
    key_value: object,
    read_branch: Reader,
    items: list[TableComparison],
    selected: list[Selected],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], TextRow]:
    """Return the branch's rows of the selection (the user's only), as text, by (table, key)."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], TextRow] = {}

    def work(conn: Connection) -> None:
        fix_text_output(conn)
        for item in items:
            table = owners.tables[item.table]
            keys = [tuple(v for _, v in s.key) for s in selected if s.table == item.table]
            key_text = tuple_(*(as_text(table.c[name]) for name in item.key))
            where = [
                rows_of_user(owners, item.ownership.path, key_value, table=table),
                key_text.in_(keys),
            ]
            for row in text_rows(conn, table, where, item.columns):
                found[(item.table, row.key)] = row

    read_branch(work)
    return found
