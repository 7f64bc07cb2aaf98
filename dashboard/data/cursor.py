"""Keyset cursors: an opaque, signed token holding the sort key of the row a page starts after.

A cursor carries the table, the order it belongs to (`-created_at`), the direction (the page
after or before that row), the key values (sort column, then primary key columns) and, when
known, where the page it leads to starts (0-based), so a later page can say "rows 51 to 100". Values
keep their Python type through a small tagged JSON encoding, so a timestamp comes back as a
timestamp and binds as one ('infinity' and '-infinity' too: see dashboard/infinite_dates.py).
The token is signed with Django's `signing` (SECRET_KEY), so it cannot be edited by hand: a
changed token is refused with a sentence, never run.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.core import signing

from dashboard.infinite_dates import (
    InfiniteDate,
    InfiniteDatetime,
    infinite_value,
    infinity_text,
    is_infinite,
)
from dashboard.params import INT8, NUMERIC_MAX_EXPONENT

SALT = "schemadesk.data.cursor"
Direction = Literal["next", "prev"]


class BadCursor(ValueError):
    """A cursor that was damaged, edited, or belongs to another table or order."""


@dataclass(frozen=True)
class Cursor:
    """A position in an ordered list: the rows after (next) or before (prev) `values`."""

    direction: Direction
    values: tuple[Any, ...]
    start: int | None = None  # position of the first row of the page it leads to, if known


def _encode_value(value: Any) -> Any:
    # bool before int: True is an int too.
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"f": repr(value)}  # keeps inf/nan and every digit
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if is_infinite(value):  # before datetime and date: no isoformat() says infinity
        return {"inf": [_INFINITE_KINDS[type(value)], infinity_text(value), _aware(value)]}
    if isinstance(value, datetime):
        return {"ts": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, time):
        return {"t": value.isoformat()}
    if isinstance(value, timedelta):
        return {"iv": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, bytes | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


_INFINITE_KINDS = {InfiniteDate: "date", InfiniteDatetime: "timestamp"}


def _aware(value: date) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _infinite(parts: list[Any]) -> Any:
    kind, text, aware = parts
    if kind not in ("date", "timestamp") or not isinstance(aware, bool):
        raise ValueError("not an infinite value")
    return infinite_value(kind, text, aware=aware)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "inf": _infinite,
    "f": float,
    "n": Decimal,
    "ts": datetime.fromisoformat,
    "d": date.fromisoformat,
    "t": time.fromisoformat,
    "iv": lambda parts: timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
    "u": uuid.UUID,
    "b": base64.b64decode,
}


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, raw),) = value.items()
        return _DECODERS[tag](raw)
    return value


def encode_cursor(
    table: str,
    order: str,
    direction: Direction,
    values: Sequence[Any],
    start: int | None = None,
) -> str:
    """Return the signed token for the page `direction` of the row with key `values`; `start`
    is where that page starts in the list (0-based), when known."""
    payload: dict[str, Any] = {
        "t": table,
        "o": order,
        "d": direction,
        "k": [_encode_value(v) for v in values],
    }
    if start is not None:
        payload["s"] = start
    return signing.dumps(payload, salt=SALT, compress=True)


def decode_cursor(
    token: str, table: str, order: str, key_length: int, kinds: Sequence[str] = ()
) -> Cursor:
    """Return the cursor in `token` for this table and order, or raise BadCursor; with the
    column kinds of the key (see columns.KINDS), each value must be of its column's type."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise BadCursor(
            "This page link is damaged or was edited, so the list starts again from the first page."
        ) from None
    try:
        if payload["t"] != table:
            raise BadCursor("This page link belongs to another table; showing the first page.")
        if payload["o"] != order:
            raise BadCursor("This page link belongs to another sort order; showing the first page.")
        direction = payload["d"]
        values = tuple(_decode_value(v) for v in payload["k"])
        start = payload.get("s")
    except BadCursor:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        # ArithmeticError: Decimal("abc") raises InvalidOperation, a huge timedelta overflows.
        raise BadCursor("This page link cannot be read; showing the first page.") from None
    if direction not in ("next", "prev") or len(values) != key_length:
        raise BadCursor("This page link no longer fits the table; showing the first page.")
    if kinds and not all(fits(value, kind) for value, kind in zip(values, kinds, strict=False)):
        raise BadCursor("This page link no longer fits the table; showing the first page.")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        start = None  # a link made before positions were kept: the position is unknown
    return Cursor(direction=direction, values=values, start=start)


# The Python types a key value of each column kind comes back as (None: a NULL sort value).
_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (Decimal, float, int),
    "text": (str,),
    "enum": (str,),
    "boolean": (bool,),
    "date": (date,),
    "timestamp": (datetime,),
    "time": (time,),
    "interval": (timedelta,),
    "uuid": (uuid.UUID,),
}


def fits(value: Any, kind: str) -> bool:
    """Return True when `value` can be bound as a value of a column of this kind."""
    if value is None or kind not in _KIND_TYPES:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False  # True is an int too
    if not isinstance(value, _KIND_TYPES[kind]):
        return False
    if kind == "date" and isinstance(value, datetime):
        return False
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, int) and kind == "integer":
        return INT8[0] <= value <= INT8[1]
    if isinstance(value, Decimal) and value.is_finite() and value:
        return value.adjusted() < NUMERIC_MAX_EXPONENT
    return not (isinstance(value, Decimal) and value.is_snan())
