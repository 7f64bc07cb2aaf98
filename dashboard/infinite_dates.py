"""PostgreSQL's 'infinity' and '-infinity' dates and timestamps, read and written by the console.

A date, timestamp or timestamptz column may hold 'infinity' or '-infinity', which no Python date
holds: psycopg refuses to load them ("timestamp too large (after year 10K)"), so a list page
with one such row showed nothing and the row's own page failed. On the console's connections to
the target (and only there: `context` is given to psycopg.connect, never registered on psycopg's
global adapters), such a value loads as an `InfiniteDate` or `InfiniteDatetime`: a subclass of
date / datetime holding the largest (or smallest) value Python has, so it sorts and compares
where PostgreSQL puts it, yet a real 9999-12-31 stays a plain date. Bound as a parameter (a
keyset cursor, a filter) it is dumped back as 'infinity' / '-infinity'. `infinity_text` names
one for the pages and exports (cells.to_text).

Finite values are loaded by psycopg's own (C) loaders, so a page of ordinary timestamps costs
what it did; the loaders here only look at the value first.
"""

from __future__ import annotations

import functools
import struct
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Dumper, Loader, PyFormat
from psycopg.postgres import types as pg_types
from psycopg.pq import Format
from psycopg.types.datetime import DatetimeNoTzDumper

POSITIVE = "infinity"
NEGATIVE = "-infinity"


class InfiniteDate(date):
    """PostgreSQL's date 'infinity' (date.max) or '-infinity' (date.min)."""

    __slots__ = ()

    @property
    def positive(self) -> bool:
        return self == date.max


class InfiniteDatetime(datetime):
    """PostgreSQL's timestamp(tz) 'infinity' (datetime.max) or '-infinity' (datetime.min);
    aware (UTC) when it came from a timestamptz."""

    __slots__ = ()

    @property
    def positive(self) -> bool:
        return self.replace(tzinfo=None) == datetime.max


DATE_INFINITY = InfiniteDate(9999, 12, 31)
DATE_MINUS_INFINITY = InfiniteDate(1, 1, 1)
_MAX, _MIN = datetime.max, datetime.min
TIMESTAMP_INFINITY = InfiniteDatetime(*_MAX.timetuple()[:6], _MAX.microsecond)
TIMESTAMP_MINUS_INFINITY = InfiniteDatetime(*_MIN.timetuple()[:6], _MIN.microsecond)
TIMESTAMPTZ_INFINITY = TIMESTAMP_INFINITY.replace(tzinfo=UTC)
TIMESTAMPTZ_MINUS_INFINITY = TIMESTAMP_MINUS_INFINITY.replace(tzinfo=UTC)


def is_infinite(value: Any) -> bool:
    """Return True when `value` is an infinite date or timestamp read from the target."""
    return isinstance(value, InfiniteDate | InfiniteDatetime)


def infinity_text(value: Any) -> str | None:
    """Return 'infinity' or '-infinity' for an infinite value, None for anything else."""
    if isinstance(value, InfiniteDate | InfiniteDatetime):
        return POSITIVE if value.positive else NEGATIVE
    return None


def infinite_value(kind: str, text: str, *, aware: bool = False) -> date | datetime:
    """Return the infinite value of a column kind ('date' or 'timestamp') for 'infinity' or
    '-infinity' (raise ValueError for any other text)."""
    positive = {POSITIVE: True, NEGATIVE: False}[text]
    if kind == "date":
        return DATE_INFINITY if positive else DATE_MINUS_INFINITY
    if aware:
        return TIMESTAMPTZ_INFINITY if positive else TIMESTAMPTZ_MINUS_INFINITY
    return TIMESTAMP_INFINITY if positive else TIMESTAMP_MINUS_INFINITY


# -- loaders --------------------------------------------------------------------------------------

# What PostgreSQL sends for ±infinity in binary: the int4 (date) or int8 (timestamps) extremes.
_INT4, _INT8 = struct.Struct("!i"), struct.Struct("!q")
_BINARY_DATE = {_INT4.pack(2**31 - 1): True, _INT4.pack(-(2**31)): False}
_BINARY_TIMESTAMP = {_INT8.pack(2**63 - 1): True, _INT8.pack(-(2**63)): False}
_TEXT_SIGNS = {b"infinity": True, b"-infinity": False}


class _InfiniteLoader(Loader):
    """Load ±infinity as the class's values; leave every other value to psycopg's loader."""

    special: dict[bytes, bool] = _TEXT_SIGNS
    infinite: tuple[Any, Any] = (None, None)  # (positive, negative)

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        # psycopg's own loader for the type (the C one when psycopg[binary] is installed).
        finite = psycopg.adapters.get_loader(oid, self.format)
        assert finite is not None  # psycopg loads every date and timestamp type
        self._finite = finite(oid, context)

    def load(self, data: Buffer) -> Any:
        if len(data) in (4, 8, 9):  # only then can it be 'infinity', '-infinity' or an extreme
            sign = self.special.get(bytes(data))
            if sign is not None:
                return self.infinite[0] if sign else self.infinite[1]
        return self._finite.load(data)


class DateLoader(_InfiniteLoader):
    infinite = (DATE_INFINITY, DATE_MINUS_INFINITY)


class DateBinaryLoader(DateLoader):
    format = Format.BINARY
    special = _BINARY_DATE


class TimestampLoader(_InfiniteLoader):
    infinite = (TIMESTAMP_INFINITY, TIMESTAMP_MINUS_INFINITY)


class TimestampBinaryLoader(TimestampLoader):
    format = Format.BINARY
    special = _BINARY_TIMESTAMP


class TimestamptzLoader(_InfiniteLoader):
    infinite = (TIMESTAMPTZ_INFINITY, TIMESTAMPTZ_MINUS_INFINITY)


class TimestamptzBinaryLoader(TimestamptzLoader):
    format = Format.BINARY
    special = _BINARY_TIMESTAMP


# -- dumpers --------------------------------------------------------------------------------------


def _dumped(obj: date, format: Format, binary: struct.Struct) -> bytes:
    """Return PostgreSQL's text or binary form of an infinite value (`binary`: int4 or int8)."""
    positive = infinity_text(obj) == POSITIVE
    if format == Format.BINARY:
        top = 2 ** (binary.size * 8 - 1)
        return binary.pack(top - 1 if positive else -top)
    return b"infinity" if positive else b"-infinity"


class InfiniteDateDumper(Dumper):
    oid = pg_types["date"].oid

    def dump(self, obj: date) -> Buffer:
        return _dumped(obj, self.format, _INT4)


class InfiniteDateBinaryDumper(InfiniteDateDumper):
    format = Format.BINARY


class InfiniteTimestampDumper(DatetimeNoTzDumper):
    """Dump a naive infinite timestamp (psycopg picks it by `upgrade` below)."""

    def dump(self, obj: datetime) -> Buffer:
        return _dumped(obj, self.format, _INT8)


class InfiniteTimestampBinaryDumper(InfiniteTimestampDumper):
    format = Format.BINARY


class InfiniteTimestamptzDumper(InfiniteTimestampDumper):
    """Dump an infinite timestamp: as a timestamptz when aware, else as a timestamp."""

    oid = pg_types["timestamptz"].oid
    naive: type[InfiniteTimestampDumper] = InfiniteTimestampDumper

    def upgrade(self, obj: datetime, format: PyFormat) -> Dumper:
        return self if obj.tzinfo else self.naive(self.cls)


class InfiniteTimestamptzBinaryDumper(InfiniteTimestamptzDumper):
    format = Format.BINARY
    naive = InfiniteTimestampBinaryDumper


def register(adapters: AdaptersMap) -> None:
    """Make `adapters` load and dump ±infinity dates and timestamps (see the module doc)."""
    for name, text_loader, binary_loader in (
        ("date", DateLoader, DateBinaryLoader),
        ("timestamp", TimestampLoader, TimestampBinaryLoader),
        ("timestamptz", TimestamptzLoader, TimestamptzBinaryLoader),
    ):
        oid = pg_types[name].oid
        adapters.register_loader(oid, text_loader)
        adapters.register_loader(oid, binary_loader)
    # The order of psycopg's own registration: the last one of a class is its default format.
    adapters.register_dumper(InfiniteDate, InfiniteDateDumper)
    adapters.register_dumper(InfiniteDate, InfiniteDateBinaryDumper)
    adapters.register_dumper(InfiniteDatetime, InfiniteTimestamptzDumper)
    adapters.register_dumper(InfiniteDatetime, InfiniteTimestamptzBinaryDumper)


@functools.cache
def target_context() -> AdaptersMap:
    """Return the adapters the console's connections to the target start from (psycopg's
    defaults, plus ±infinity): pass it as psycopg.connect's `context`."""
    adapters = AdaptersMap(psycopg.adapters)
    register(adapters)
    return adapters
