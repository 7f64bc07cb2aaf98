"""Typed operator input: a filter field or a URL key parsed into a value of the column's type.

`parse_value` turns operator input (a filter field, a primary key in a URL) into a Python value
of the column's type, or raises `BadValue` with a sentence for the form.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from dashboard.data.columns import ColumnInfo

INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1
TEXT_INPUT_MAX = 1000


class BadValue(ValueError):
    """Operator input that does not fit the column; the message is the sentence to show."""


TRUE_WORDS = {"true", "t", "1", "yes", "y", "on"}
FALSE_WORDS = {"false", "f", "0", "no", "n", "off"}


@dataclass(frozen=True)
class Parsed:
    """A parsed input value; `whole_day` is set when a timestamp was given as a bare date."""

    value: Any
    whole_day: bool = False


def parse_value(info: ColumnInfo, raw: str) -> Parsed:
    """Return `raw` as a value of the column's type, or raise BadValue with a sentence."""
    text = raw.strip()
    if "\x00" in raw:
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


def _integer(info: ColumnInfo, text: str) -> Parsed:
    try:
        value = int(text.replace("_", ""), 10)
    except ValueError:
        raise BadValue("Enter a whole number, like 42.") from None
    if not INT8_MIN <= value <= INT8_MAX:
        raise BadValue("That number is too large for this column.")
    return Parsed(value)


def _number(info: ColumnInfo, text: str) -> Parsed:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue("Enter a number, like 3.14.") from None
    if not value.is_finite():
        raise BadValue("Enter a finite number, like 3.14.")
    if "double" in info.type_label or "real" in info.type_label or "float" in info.type_label:
        return Parsed(float(value))
    return Parsed(value)


def _text(info: ColumnInfo, text: str) -> Parsed:
    if len(text) > TEXT_INPUT_MAX:
        raise BadValue(f"Enter at most {TEXT_INPUT_MAX} characters.")
    return Parsed(text)


def _boolean(info: ColumnInfo, text: str) -> Parsed:
    word = text.lower()
    if word in TRUE_WORDS:
        return Parsed(True)
    if word in FALSE_WORDS:
        return Parsed(False)
    raise BadValue("Choose true or false.")


def _date(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(date.fromisoformat(text))
    except ValueError:
        raise BadValue("Enter a date as YYYY-MM-DD, like 2025-01-31.") from None


def _timestamp(info: ColumnInfo, text: str) -> Parsed:
    whole_day = len(text) == 10
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        zone = timezone.get_current_timezone_name() if info.timezone else "no time zone"
        raise BadValue(
            f"Enter a date, or a date and time, like 2025-01-31 or 2025-01-31 14:30 ({zone})."
        ) from None
    if info.timezone and timezone.is_naive(value):
        value = timezone.make_aware(value)
    elif not info.timezone and timezone.is_aware(value):
        value = value.replace(tzinfo=None)
    return Parsed(value, whole_day=whole_day)


def _time(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(time.fromisoformat(text))
    except ValueError:
        raise BadValue("Enter a time as HH:MM or HH:MM:SS, like 14:30.") from None


def _uuid(info: ColumnInfo, text: str) -> Parsed:
    try:
        return Parsed(uuid.UUID(text))
    except ValueError:
        raise BadValue("Enter a UUID, like 123e4567-e89b-12d3-a456-426614174000.") from None


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
