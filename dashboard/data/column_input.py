"""Typed operator input: a filter field or a URL key parsed into a value of the column's type.

`parse_value` turns operator input (a filter field, a primary key in a URL) into a Python value
of the column's type, or raises `BadValue` with a sentence for the form. The parsing itself is
dashboard.params' (ASCII digits, values within the column type's range, dates PostgreSQL and
Python both hold; dates and timestamps may also be 'infinity' or '-infinity'); this module picks
the parser by the column's kind and words the sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from dashboard.data.columns import ColumnInfo
from dashboard.infinite_dates import NEGATIVE, POSITIVE, infinite_value
from dashboard.params import (
    BadParameter,
    boolean,
    day,
    has_nul,
    integer,
    integer_range,
    time_of_day,
    timestamp,
    typed_number,
    uuid_value,
)

TEXT_INPUT_MAX = 1000


class BadValue(ValueError):
    """Operator input that does not fit the column; the message is the sentence to show."""


@dataclass(frozen=True)
class Parsed:
    """A parsed input value; `whole_day` is set when a timestamp was given as a bare date."""

    value: Any
    whole_day: bool = False


def parse_value(info: ColumnInfo, raw: str) -> Parsed:
    """Return `raw` as a value of the column's type, or raise BadValue with a sentence."""
    text = raw.strip()
    if has_nul(raw):
        raise BadValue("The value may not contain NUL characters.")
    if info.choices and info.kind in ("enum", "text"):
        if raw not in info.choices:
            raise BadValue(f"Choose one of: {', '.join(info.choices)}.")
        return Parsed(raw)
    parser = _PARSERS.get(info.kind)
    if parser is None:
        raise BadValue(f"Values of type {info.type_label} cannot be entered here.")
    if not text and info.kind != "text":
        raise BadValue("Enter a value.")
    return parser(info, raw if info.kind == "text" else text)


def _checked(parse: Callable[[], Any]) -> Any:
    """Return parse(), its BadParameter turned into the field's sentence ("Enter …")."""
    try:
        return parse()
    except BadParameter as exc:
        raise BadValue(f"Enter {exc.expected}.") from None


def _integer(info: ColumnInfo, text: str) -> Parsed:
    low, high = integer_range(info.type_label)
    return Parsed(_checked(lambda: integer(text, info.name, minimum=low, maximum=high)))


def _number(info: ColumnInfo, text: str) -> Parsed:
    return Parsed(_checked(lambda: typed_number(text, info.name, info.type_label)))


def _text(info: ColumnInfo, text: str) -> Parsed:
    if len(text) > TEXT_INPUT_MAX:
        raise BadValue(f"Enter at most {TEXT_INPUT_MAX} characters.")
    return Parsed(text)


def _boolean(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(boolean(text, info.name))
    except BadParameter:
        raise BadValue("Choose true or false.") from None


def _infinite(info: ColumnInfo, text: str) -> Parsed | None:
    """Return PostgreSQL's 'infinity' or '-infinity' of a date or timestamp column, if named."""
    word = text.lower()
    if word not in (POSITIVE, NEGATIVE):
        return None
    return Parsed(infinite_value(info.kind, word, aware=info.timezone))


def _date(info: ColumnInfo, text: str) -> Parsed:
    infinite = _infinite(info, text)
    if infinite is not None:
        return infinite
    return Parsed(_checked(lambda: day(text, info.name)))


def _timestamp(info: ColumnInfo, text: str) -> Parsed:
    infinite = _infinite(info, text)
    if infinite is not None:
        return infinite
    zone = timezone.get_current_timezone_name() if info.timezone else "no time zone"
    expected = f"a date, or a date and time, like 2025-01-31 or 2025-01-31 14:30 ({zone})"
    value, whole_day = _checked(lambda: timestamp(text, info.name, expected=expected))
    if info.timezone and timezone.is_naive(value):
        value = timezone.make_aware(value)
    elif not info.timezone and timezone.is_aware(value):
        value = value.replace(tzinfo=None)
    return Parsed(value, whole_day=whole_day)


def _time(info: ColumnInfo, text: str) -> Parsed:
    return Parsed(_checked(lambda: time_of_day(text, info.name)))


def _uuid(info: ColumnInfo, text: str) -> Parsed:
    return Parsed(_checked(lambda: uuid_value(text, info.name)))


_PARSERS = {
    "integer": _integer,
    "number": _number,
    "text": _text,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
    "uuid": _uuid,
}
# The kinds a value can be typed (or written in a link) and read back: enum values are choices.
PARSED_KINDS = frozenset({*_PARSERS, "enum"})
