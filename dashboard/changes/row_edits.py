"""Guarded row changes in one end-user's scope: edit a row, add one, delete one.

Django admin's change form, made safe for production: the row is read in the user's scope only
(its ownership path), its values as text with the fingerprint they had (dashboard/row_text.py);
the form carries what it showed, signed, so an edit sets exactly the columns the operator
changed and applies only if the row is still as it was shown (optimistic concurrency, checked
by the database in the statement's WHERE). A delete first counts, per table, what ON DELETE
CASCADE (or SET NULL) would touch; the write door refuses it if the numbers changed since.
Every change is previewed as SQL and needs a reason (dashboard/changes/views.py).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import Http404, QueryDict
from sqlalchemy import Connection, Table

from dashboard.changes.cascade import Effect, delete_effects, effect_count_sql, effect_counts
from dashboard.data.rows import parse_key
from dashboard.row_text import TextRow, fix_text_output, run_text, text_rows
from dashboard.suggested_sql import quote_identifier
from dashboard.target import run_read
from dashboard.users.ownership import OwnershipMap, rows_of_user, rows_of_user_sql
from dashboard.write_plan import RowChange, WritePlan, WriteScope
from dashboard.write_statements import key_condition

SHOWN_SALT = "schemadesk.changes.shown"
ONCE = re.compile(r"[0-9a-f]{32}")


class ChangeRefused(ValueError):
    """A change that cannot be made, with the sentence saying why."""


def owned_table(owners: OwnershipMap, name: str) -> Table:
    """Return a user-owned table with a primary key, or Http404 with a sentence."""
    if name not in owners.owned:
        raise Http404(f"The table “{name}” is not linked to {owners.users.name}.")
    table = owners.tables[name]
    if not list(table.primary_key.columns):
        raise Http404(f"The table “{name}” has no primary key, so its rows are not changed here.")
    return table


def read_row(owners: OwnershipMap, table: Table, key_value: object, params: QueryDict) -> TextRow:
    """Return the row named by `?pk.<col>=` if it is this user's (Http404 otherwise)."""
    key = parse_key(table, params)
    where = [
        rows_of_user(owners, owners.owned[table.name].path, key_value, table=table),
        *(table.c[name] == value for name, value in key.items()),
    ]

    def work(conn: Connection) -> list[TextRow]:
        fix_text_output(conn)
        return text_rows(conn, table, where)

    rows = run_read(work)
    if not rows:
        label = ", ".join(f"{name} = {value}" for name, value in key.items())
        raise Http404(
            f"No row of “{table.name}” with {label} belongs to this end-user (or it was deleted)."
        )
    return rows[0]


def _shown_salt(subject: str, table: str) -> str:
    """Bind a form's record to the end-user and table it showed: not valid on another page."""
    return f"{SHOWN_SALT}:{len(subject)}:{subject}:{table}"


def sign_shown(row: TextRow, editable: list[str], subject: str, table: str) -> str:
    """Return the signed record of what an edit form showed: key, fingerprint, values."""
    payload = {
        "k": [list(pair) for pair in row.key],
        "f": row.fingerprint,
        "c": list(row.values),
        "v": {name: row.values[name] for name in editable},
    }
    return signing.dumps(payload, salt=_shown_salt(subject, table), compress=True)


@dataclass(frozen=True)
class Shown:
    key: tuple[tuple[str, str], ...]
    fingerprint: str
    columns: tuple[str, ...]
    values: dict[str, str | None]


def read_shown(token: str, subject: str, table: str) -> Shown:
    """Return what a form of `subject`'s row of `table` showed, or ChangeRefused when the token
    was edited or is another end-user's or table's."""
    try:
        data = signing.loads(token, salt=_shown_salt(subject, table))
        return Shown(
            tuple((str(n), str(v)) for n, v in data["k"]),
            str(data["f"]),
            tuple(str(c) for c in data["c"]),
            dict(data["v"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ChangeRefused("The form was damaged or edited; open the row again.") from None


def one_time_mark(posted: str | None) -> str:
    """Return the add form's one-time mark: the one it posted, or a new one."""
    return posted if posted and ONCE.fullmatch(posted) else uuid.uuid4().hex


def edit_plan(subject: str, table: Table, shown: Shown, values: dict[str, Any]) -> WritePlan:
    """Return the update of the columns whose value differs from what the form showed."""
    changed = tuple(
        (name, value) for name, value in values.items() if shown.values.get(name, value) != value
    )
    if not changed:
        raise ChangeRefused("Nothing was changed.")
    change = RowChange(
        table.name,
        "update",
        key=shown.key,
        values=changed,
        guard=shown.fingerprint,
        guard_columns=shown.columns,
        note="edited",
    )
    return WritePlan("edit", subject, (change,))


def add_plan(
    subject: str, table: Table, values: dict[str, Any], unset: object, once: str = ""
) -> WritePlan:
    """Return the insert of a new row with the given values (defaults for the others).

    `once` is the form's one-time mark: the write door applies a plan with it only once."""
    given = tuple((name, value) for name, value in values.items() if value is not unset)
    known = dict(given)
    key_names = [column.name for column in table.primary_key.columns]
    key: tuple[tuple[str, str], ...] = ()
    if all(known.get(name) is not None for name in key_names):
        key = tuple((name, str(known[name])) for name in key_names)
    change = RowChange(table.name, "insert", key=key, values=given, note="added")
    return WritePlan("add", subject, (change,), {"once": once} if once else {})


@dataclass
class DeletePreview:
    """What deleting a row does: per table, the rows removed, changed or in the way."""

    effects: list[tuple[Effect, int]] = field(default_factory=list)
    limit: int = 0
    # per table: rows the cascade would delete or change that are another end-user's
    others: list[tuple[str, int]] = field(default_factory=list)

    @property
    def blocked(self) -> list[tuple[Effect, int]]:
        return [(e, n) for e, n in self.effects if e.action == "blocked" and n]

    @property
    def shown(self) -> list[tuple[Effect, int]]:
        return [(e, n) for e, n in self.effects if n]


def delete_plan(
    subject: str, table: Table, row: TextRow, cascade: tuple[tuple[str, str, int], ...] = ()
) -> WritePlan:
    """Return the guarded delete of `row` (cascade: what the preview counted)."""
    change = RowChange(
        table.name,
        "delete",
        key=row.key,
        guard=row.fingerprint,
        guard_columns=tuple(row.values),
        cascade=cascade,
        note="deleted",
    )
    return WritePlan("delete", subject, (change,))


def delete_preview(owners: OwnershipMap, scope: WriteScope, change: RowChange) -> DeletePreview:
    """Return how many rows of each table deleting the row would touch (read as the owner)."""
    table = owners.tables[change.table]
    effects = delete_effects(owners.tables, table, key_condition(scope, change))
    limit = int(settings.TARGET_WRITE.get("MAX_ROWS", 1000))
    counts = run_read(lambda conn: effect_counts(conn, effects, owners.tables, limit))
    touched = [e for e in effects if e.action != "blocked" and counts[(e.table, e.action)]]
    others = run_read(lambda conn: _others(conn, owners, scope.subject, touched, limit))
    return DeletePreview([(e, counts[(e.table, e.action)]) for e in effects], limit, others)


def _others(
    conn: Connection, owners: OwnershipMap, subject: str, effects: list[Effect], limit: int
) -> list[tuple[str, int]]:
    """Return, per table, the rows `effects` touch that are not `subject`'s (the write role,
    bound to the end-user, cannot see them: the write door would refuse the delete)."""
    found = []
    for effect in effects:
        if effect.table not in owners.owned:
            continue  # not end-users' data: the write door refuses it with its own sentence
        path = owners.owned[effect.table].path
        mine = rows_of_user_sql(owners, path, subject, quote_identifier)
        other = Effect(
            effect.table,
            effect.action,
            f"({effect.predicate}) AND NOT COALESCE(({mine}), false)",
            (),
        )
        count = int(run_text(conn, effect_count_sql(other, owners.tables, limit))[0][0])
        if count:
            found.append((effect.table, count))
    return found


def cascade_counts(preview: DeletePreview) -> tuple[tuple[str, str, int], ...]:
    """Return what the write door must find again: rows deleted or changed per table."""
    return tuple(
        (effect.table, effect.action, count)
        for effect, count in preview.effects
        if effect.action != "blocked" and count
    )
