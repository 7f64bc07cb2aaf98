"""The SQL of a write: each row change as the statement that runs and the one shown (masked
values hidden), with its key, its fingerprint guard and the end-user's ownership predicate, and
the keyed digest that ties what runs to what was shown."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings
from sqlalchemy import Table

from dashboard.row_text import MASK, fingerprint_sql, masked_names, typed_literal
from dashboard.suggested_sql import qualified_name, quote_identifier, quote_literal
from dashboard.users.ownership import rows_of_user_sql
from dashboard.write_plan import RowChange, Statement, WritePlan, WriteRefused, WriteScope
from dashboard.write_settings import max_rows

ACTIONS = ("insert", "update", "delete")


def _table(scope: WriteScope, name: str) -> Table:
    table = scope.owners.tables.get(name)
    if table is None or name not in scope.owners.owned:
        raise WriteRefused(f"“{name}” is not a table of end-users' data; it is not written here.")
    if name not in scope.columns:
        raise WriteRefused(f"The write role cannot see the table “{name}”.")
    return table


def key_condition(scope: WriteScope, change: RowChange, qualifier: str = "") -> str:
    types = scope.columns[change.table]
    return " AND ".join(
        f"{qualifier}{quote_identifier(name)} = {typed_literal(value, types[name].type_sql)}"
        for name, value in change.key
    )


def ownership(scope: WriteScope, table: str, ref: Callable[[str], str]) -> str:
    path = scope.owners.owned[table].path
    return rows_of_user_sql(scope.owners, path, scope.subject, ref)


def _ownership_after(scope: WriteScope, change: RowChange, masked: set[str], shown: bool) -> str:
    """Return the ownership predicate of an updated row's new values (an assigned column as its
    new literal, another as the column): a restore or edit never moves a row out of the user's
    data, for instance onto a parent row that went to another user since."""
    values = dict(change.values)

    def ref(name: str) -> str:
        if name not in values:
            return quote_identifier(name)
        return _literal(scope, change.table, name, values[name], shown and name in masked)

    return ownership(scope, change.table, ref)


def _literal(scope: WriteScope, table: str, name: str, value: str | None, masked: bool) -> str:
    types = scope.columns[table]
    if name not in types:
        raise WriteRefused(f"The table “{table}” has no column “{name}”.")
    if masked and value is not None:
        return typed_literal(MASK, types[name].type_sql)
    return typed_literal(value, types[name].type_sql)


def _render_one(scope: WriteScope, change: RowChange, index: int) -> Statement:
    if change.action not in ACTIONS:
        raise WriteRefused(f"Unknown change {change.action!r}.")
    table = _table(scope, change.table)
    key_names = [column.name for column in table.primary_key.columns]
    if not key_names:
        raise WriteRefused(
            f"“{change.table}” has no primary key, so its rows are not changed here."
        )
    if change.key and [name for name, _ in change.key] != key_names:
        raise WriteRefused(f"A change of “{change.table}” must name its whole primary key.")
    if change.action != "insert" and not (change.key and change.guard and change.guard_columns):
        raise WriteRefused(f"A {change.action} of “{change.table}” needs its key and its guard.")
    unknown = [n for n in change.guard_columns if n not in scope.columns[change.table]]
    if unknown:
        raise WriteRefused(f"The table “{change.table}” has no column {', '.join(unknown)}.")
    masked = masked_names(table)
    source = qualified_name(str(table.schema), table.name)
    guarded_by_rls = change.table in scope.rls
    texts = []
    for shown in (False, True):
        lines: list[str]
        if change.action == "insert":
            lines = _insert_lines(scope, change, source, key_names, masked if shown else set())
        else:
            values = dict(change.values)
            if change.action == "update":
                assignments = ", ".join(
                    f"{quote_identifier(name)} = "
                    f"{_literal(scope, change.table, name, value, shown and name in masked)}"
                    for name, value in values.items()
                )
                lines = [f"UPDATE {source}", f"SET {assignments}"]
            else:
                lines = [f"DELETE FROM {source}"]
            lines.append(f"WHERE {key_condition(scope, change)}")
            lines.append(
                f"  AND {fingerprint_sql(change.guard_columns)} = {quote_literal(change.guard)}"
            )
            if not guarded_by_rls:
                owned = ownership(scope, change.table, quote_identifier)
                lines.append(f"  AND {owned}")
                after = _ownership_after(scope, change, masked, shown)
                if change.action == "update" and after != owned:  # it sets an owner column
                    lines.append(f"  AND {after}")
        texts.append("\n".join(lines))
    return Statement(sql=texts[0], shown=texts[1], index=index)


def _insert_lines(
    scope: WriteScope, change: RowChange, source: str, key_names: list[str], masked: set[str]
) -> list[str]:
    types = scope.columns[change.table]
    values = dict(change.values)
    for name, value in change.key:
        values.setdefault(name, value)
    if not values:
        raise WriteRefused(f"An added row of “{change.table}” needs at least one value.")
    generated = [name for name in values if name in types and types[name].generated]
    if generated:
        raise WriteRefused(
            f"{', '.join(generated)} of “{change.table}” are computed by the database."
        )
    names = ", ".join(quote_identifier(name) for name in values)
    literals = {
        name: _literal(scope, change.table, name, value, name in masked)
        for name, value in values.items()
    }
    lines = [f"INSERT INTO {source} ({names})"]
    if any(types[name].identity == "a" for name in values):
        lines.append("OVERRIDING SYSTEM VALUE")
    listed = ", ".join(literals.values())
    if change.table in scope.rls:
        lines.append(f"VALUES ({listed})")
    else:

        def ref(name: str) -> str:
            if name not in literals:
                raise WriteRefused(
                    f"An added row of “{change.table}” must give {name}, the column that ties "
                    "it to the end-user."
                )
            return literals[name]

        lines.append(f"SELECT {listed}")
        lines.append(f"WHERE {ownership(scope, change.table, ref)}")
    if all(name in values for name in key_names):
        lines.append(
            f"ON CONFLICT ({', '.join(quote_identifier(n) for n in key_names)}) DO NOTHING"
        )
    else:
        lines.append("RETURNING " + ", ".join(f"{quote_identifier(n)}::text" for n in key_names))
    return lines


def render(plan: WritePlan, scope: WriteScope) -> list[Statement]:
    """Return the statements that carry out `plan`, one per change, in order."""
    if not plan.changes:
        raise WriteRefused("There is nothing to change.")
    if len(plan.changes) > max_rows():
        raise WriteRefused(
            f"This change touches {len(plan.changes)} rows; one change may touch at most "
            f"{max_rows()} (DATA_WRITE_MAX_ROWS). Select fewer rows."
        )
    return [_render_one(scope, change, index) for index, change in enumerate(plan.changes)]


def digest(statements: list[Statement]) -> str:
    """Return a keyed digest of the statements that run (it reveals nothing of their values)."""
    body = "\n;\n".join(statement.sql for statement in statements).encode()
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()[:32]
