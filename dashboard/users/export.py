"""One end-user's complete data as a single JSON document, written as it is read.

The document is produced piece by piece (for a StreamingHttpResponse): a header (who, when,
which tables and by which path), then each owned table's rows, one table after another, read
in keyset batches on the primary key, each batch in its own read-only transaction with the
usual timeouts. Nothing is held in memory beyond one batch. A batch that fails is noted in
`errors` at the end and `complete` is false; the document stays valid JSON either way.

Shape:
    {"export": {...header...},
     "tables": {"users": [{...}], "tasks": [{...}, ...], ...},
     "errors": [], "complete": true}
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from sqlalchemy import ColumnClause, Connection, literal_column, select, text, tuple_

from dashboard.row_text import masked_names
from dashboard.target import TargetError, TargetTimeout, run_read, target_schema
from dashboard.users.footprint import FENCE_MAX_ROWS, count_statement
from dashboard.users.ownership import OwnershipMap, TableOwnership, rows_of_user

logger = logging.getLogger(__name__)
FORMAT = "schemadesk.user-export/1"
MASKED = "[masked]"
CTID = "__schemadesk_ctid"


def json_default(value: Any) -> Any:
    """Return a JSON-friendly form of the values psycopg returns that json cannot encode."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)  # as text: a float would lose digits
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


# One encoder for the whole export: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=json_default, ensure_ascii=False)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def export_header(owners: OwnershipMap, subject: str, batch_rows: int) -> dict[str, Any]:
    """Return the document's header: the user, when, and each table with its path."""
    return {
        "format": FORMAT,
        "user": {"table": owners.users.name, "key_column": owners.users.key, "id": subject},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema": target_schema(),
        "consistency": (
            f"rows are read in batches of at most {batch_rows} in primary-key order; "
            "each batch is its own read-only snapshot"
        ),
        "tables": [
            {
                "name": name,
                "path": ownership.path.arrow,
                "links": [link.label for link in ownership.path.links],
                "linked_by": sorted({link.via for link in ownership.path.links}),
                "masked_columns": sorted(masked_names(owners.tables[name])),
            }
            for name, ownership in owners.owned.items()
        ],
    }


def batch_statement(
    owners: OwnershipMap,
    ownership: TableOwnership,
    key_value: object,
    after: tuple[Any, ...] | None,
    batch_rows: int,
    fenced: bool = False,
):
    """Return the next batch of the user's rows after the keyset position `after`.

    `fenced` (for users with few rows in the table) reads them through the owner column's
    index and sorts them, instead of letting the planner walk the primary key (see
    footprint.FENCE_MAX_ROWS for why).
    """
    table = owners.tables[ownership.table]
    key = list(table.primary_key.columns)
    statement = select(table).where(rows_of_user(owners, ownership.path, key_value))
    if key:
        if after is not None:
            position = key[0] > after[0] if len(key) == 1 else tuple_(*key) > tuple_(*after)
            statement = statement.where(position)
        if fenced:
            mine = statement.offset(0).subquery("mine")
            return select(mine).order_by(*(mine.c[c.name] for c in key)).limit(batch_rows)
        return statement.order_by(*key).limit(batch_rows)
    # No primary key: batches follow the physical row position (stable unless rows change).
    ctid: ColumnClause[Any] = literal_column("ctid")
    statement = statement.add_columns(ctid.label(CTID))
    if after is not None:
        statement = statement.where(text("ctid > CAST(:after AS tid)").bindparams(after=after[0]))
    return statement.order_by(ctid).limit(batch_rows)


def _row_document(names: list[str], masked: set[str], row) -> dict[str, Any]:
    document = {name: row[name] for name in names}
    for name in masked:
        if document[name] is not None:
            document[name] = MASKED
    return document


def few_rows(owners: OwnershipMap, ownership: TableOwnership, key_value: object) -> bool:
    """Return True when the user has at most FENCE_MAX_ROWS rows in the table (count bounded)."""
    if not ownership.path.links:
        return False  # the users table: one row, found by its key
    statement = count_statement(owners, ownership, key_value)
    try:
        count = run_read(
            lambda conn: int(conn.execute(statement).scalar_one()),
            timeout_ms=int(settings.SUPPORT_COUNT_TIMEOUT_MS),
        )
    except TargetTimeout:
        return False
    return count <= FENCE_MAX_ROWS


def table_rows(
    owners: OwnershipMap, ownership: TableOwnership, key_value: object, batch_rows: int
) -> Iterator[list[dict[str, Any]]]:
    """Yield the user's rows of one table, a batch at a time (each batch its own transaction)."""
    table = owners.tables[ownership.table]
    key = [column.name for column in table.primary_key.columns]
    names = [column.name for column in table.c]
    masked = masked_names(table)
    fenced = few_rows(owners, ownership, key_value)
    after: tuple[Any, ...] | None = None
    while True:
        statement = batch_statement(owners, ownership, key_value, after, batch_rows, fenced)

        def read(conn: Connection, statement=statement) -> Sequence[Any]:
            return conn.execute(statement).mappings().all()

        rows = run_read(read)
        if not rows:
            return
        yield [_row_document(names, masked, row) for row in rows]
        if len(rows) < batch_rows:
            return
        last = rows[-1]
        after = tuple(last[name] for name in key) if key else (str(last[CTID]),)


def export_document(
    owners: OwnershipMap, subject: str, key_value: object, batch_rows: int
) -> Iterator[str]:
    """Yield the JSON document of everything user `subject` owns, piece by piece."""
    errors: list[dict[str, object]] = []
    yield '{"export": ' + dumps(export_header(owners, subject, batch_rows)) + ',\n"tables": {'
    for position, (name, ownership) in enumerate(owners.owned.items()):
        yield ("," if position else "") + "\n" + dumps(name) + ": ["
        written = 0
        try:
            for batch in table_rows(owners, ownership, key_value, batch_rows):
                pieces = [dumps(row) for row in batch]
                yield ("," if written else "") + "\n  " + ",\n  ".join(pieces)
                written += len(batch)
        except TargetError as exc:
            logger.warning("export of %s stopped after %d rows: %s", name, written, exc.detail)
            errors.append({"table": name, "rows_written": written, "error": exc.sentence})
        yield "]"
    yield "\n},\n" + '"errors": ' + dumps(errors) + ', "complete": ' + dumps(not errors) + "}\n"
