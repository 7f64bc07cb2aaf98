"""Opaque keyset-pagination cursors and the page they come with."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar


class HasId(Protocol):
    """A row with an id: the cursor's tie-breaker."""

    @property
    def id(self) -> Any: ...


T = TypeVar("T", bound=HasId)
MAX_LIMIT = 200


class InvalidCursor(ValueError):
    """The cursor was not issued by this list (tampered, truncated or from another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, moment: datetime, row_id: int) -> str:
    """Return an opaque cursor pointing just after the row (moment, row_id) of list `kind`."""
    payload = json.dumps([kind, moment.isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> tuple[datetime, int]:
    """Return the (moment, row_id) a cursor of list `kind` points after, or raise InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_kind, moment, row_id = json.loads(raw)
        if cursor_kind != kind or not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError(kind)
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError(moment)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(f"not a cursor of the {kind} list") from None
    return parsed, row_id


def check_limit(limit: int) -> int:
    """Return `limit` if it is a sane page size (1..MAX_LIMIT), else raise ValueError."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def page_of(kind: str, rows: list[T], limit: int, key: str) -> Page[T]:
    """Return the page of `rows` (fetched with limit + 1) and the cursor after its last row."""
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    items = rows[:limit]
    last = items[-1]
    return Page(items=items, next_cursor=encode_cursor(kind, getattr(last, key), last.id))
