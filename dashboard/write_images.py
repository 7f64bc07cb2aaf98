"""The images of a write: the rows as they were (read under row locks, with what a delete's
cascade removes) and as they became, and why a statement whose guard found nothing was skipped."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Table

from dashboard.changes.cascade import Effect, delete_effects
from dashboard.row_text import FINGERPRINT_LABEL, fingerprint_sql, masked_names, shown_values
from dashboard.suggested_sql import qualified_name, quote_identifier
from dashboard.write_plan import RowChange, WritePlan, WriteRefused, WriteScope
from dashboard.write_settings import max_rows
from dashboard.write_statements import key_condition, ownership


def _image_select(scope: WriteScope, table: Table, where: str) -> tuple[str, list[str]]:
    names = list(scope.columns[table.name])
    selected = ", ".join(f"{quote_identifier(n)}::text" for n in names)
    source = qualified_name(str(table.schema), table.name)
    sql = (
        f"SELECT {selected}, {fingerprint_sql(names)} AS {FINGERPRINT_LABEL} "
        f"FROM {source} WHERE {where}"
    )
    return sql, names


def _read_images(
    conn: psycopg.Connection,
    scope: WriteScope,
    table: str,
    where: str,
    role: str,
    index: int,
    *,
    lock: bool,
) -> list[dict[str, Any]]:
    """Return the rows of `table` matching `where` as images (masked values hidden)."""
    sql, names = _image_select(scope, scope.owners.tables[table], where)
    if table not in scope.rls:
        sql += f" AND {ownership(scope, table, quote_identifier)}"
    if lock:
        sql += " FOR UPDATE"
    masked = masked_names(scope.owners.tables[table])
    key = [column.name for column in scope.owners.tables[table].primary_key.columns]
    images = []
    for row in conn.execute(sql):
        values = dict(zip(names, row[: len(names)], strict=True))
        images.append(
            {
                "table": table,
                "key": [[name, values[name]] for name in key],
                "columns": names,
                "values": shown_values(values, masked),
                "masked": sorted(n for n in masked if values.get(n) is not None),
                "fingerprint": row[len(names)],
                "role": role,
                "change": index,
            }
        )
    return images


def _effects(scope: WriteScope, change: RowChange) -> list[Effect]:
    table = scope.owners.tables[change.table]
    return delete_effects(scope.owners.tables, table, key_condition(scope, change))


def before_images(
    conn: psycopg.Connection, scope: WriteScope, plan: WritePlan
) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = []
    for index, change in enumerate(plan.changes):
        if change.key:
            where = key_condition(scope, change)
            images += _read_images(conn, scope, change.table, where, "row", index, lock=True)
        if change.action != "delete":
            continue
        expected = {(table, action): rows for table, action, rows in change.cascade}
        for effect in _effects(scope, change):
            if effect.action == "blocked":
                continue
            if effect.table not in scope.owners.owned or effect.table not in scope.columns:
                raise WriteRefused(
                    f"Deleting this row would also change “{effect.table}”, which is not a "
                    "table of end-users' data; the console does not do that."
                )
            found = _read_images(
                conn,
                scope,
                effect.table,
                f"({effect.predicate})",
                f"cascade:{effect.action}",
                index,
                lock=True,
            )
            if len(found) != expected.get((effect.table, effect.action), 0):
                raise WriteRefused(
                    f"Deleting this row would now {effect.action} {len(found)} row(s) of "
                    f"“{effect.table}”, not the {expected.get((effect.table, effect.action), 0)} "
                    "the preview showed: rows came or went since, or rows of another end-user "
                    "(which the console never changes) are among them. Look at the preview again.",
                )
            images += found
    if len(images) > max_rows():
        raise WriteRefused(
            f"This change would touch {len(images)} rows; one change may touch at most "
            f"{max_rows()} (DATA_WRITE_MAX_ROWS), so that the audit trail keeps every one."
        )
    return images


def after_image(
    conn: psycopg.Connection, scope: WriteScope, change: RowChange, key: tuple, index: int
) -> list[dict[str, Any]]:
    keyed = RowChange(change.table, change.action, key=key)
    return _read_images(
        conn, scope, change.table, key_condition(scope, keyed), "row", index, lock=False
    )


def skipped_why(conn: psycopg.Connection, scope: WriteScope, change: RowChange) -> str:
    if change.action == "insert":
        if change.key:
            return "a row with this key exists now (it was not overwritten)"
        return "the row would not belong to this end-user"
    where = key_condition(scope, change)
    if _read_images(conn, scope, change.table, where, "row", 0, lock=False):
        return "the row changed since it was shown (it was not overwritten)"
    return "the row is no longer there (deleted, or not this end-user's)"
