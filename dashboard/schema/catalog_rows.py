"""Plain-dict rows of catalog questions: the `Row` type and the helper that reads them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

Row = dict[str, Any]


def _rows(conn: Connection, statement, params: dict[str, object]) -> list[Row]:
    return [dict(row) for row in conn.execute(statement, params).mappings()]
