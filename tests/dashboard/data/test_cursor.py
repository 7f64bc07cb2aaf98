"""Keyset cursors: typed round trip, refused when edited or used on another list."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import signing

from dashboard.data.cursor import SALT, BadCursor, decode_cursor, encode_cursor
from dashboard.infinite_dates import (
    DATE_INFINITY,
    DATE_MINUS_INFINITY,
    TIMESTAMP_INFINITY,
    TIMESTAMPTZ_INFINITY,
    TIMESTAMPTZ_MINUS_INFINITY,
    infinity_text,
)

VALUES = [
    None,
    True,
    42,
    "owner_1 ünicode",
    1.25,
    Decimal("10.50"),
    datetime(2025, 2, 1, 8, 0, 0, 123456, tzinfo=UTC),
    date(2025, 3, 1),
    time(14, 30),
    timedelta(days=2, seconds=5, microseconds=7),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    b"\x00\xff",
]


def test_values_come_back_with_their_types():
    token = encode_cursor("items", "-created_at", "next", VALUES)
    cursor = decode_cursor(token, "items", "-created_at", len(VALUES))
    assert cursor.direction == "next"
    assert list(cursor.values) == VALUES
    assert [type(v) for v in cursor.values] == [type(v) for v in VALUES]


def test_infinite_dates_and_timestamps_come_back_infinite():
    """PostgreSQL's ±infinity keeps its meaning through a cursor, while a real 9999-12-31 (equal
    to date.max in Python) stays a date: a cursor on either resumes at the right row."""
    values = [
        DATE_INFINITY,
        DATE_MINUS_INFINITY,
        date(9999, 12, 31),
        TIMESTAMP_INFINITY,
        TIMESTAMPTZ_INFINITY,
        TIMESTAMPTZ_MINUS_INFINITY,
    ]
    kinds = ["date", "date", "date", "timestamp", "timestamp", "timestamp"]
    token = encode_cursor("spans", "ends", "next", values)
    back = decode_cursor(token, "spans", "ends", len(values), kinds=kinds).values
    assert [infinity_text(v) for v in back] == [
        "infinity", "-infinity", None, "infinity", "infinity", "-infinity"
    ]  # fmt: skip
    assert [type(v) for v in back] == [type(v) for v in values]
    assert [v.tzinfo for v in back[3:]] == [None, UTC, UTC]
    assert list(back) == values


def test_an_edited_token_is_refused():
    token = encode_cursor("items", "id", "next", [41])
    edited = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    with pytest.raises(BadCursor, match="damaged or was edited"):
        decode_cursor(edited, "items", "id", 1)


def test_a_forged_payload_without_the_key_is_refused():
    forged = signing.dumps({"t": "items", "o": "id", "d": "next", "k": [1]}, key="not-ours")
    with pytest.raises(BadCursor):
        decode_cursor(forged, "items", "id", 1)


def test_a_cursor_of_another_table_or_order_is_refused():
    token = encode_cursor("items", "id", "next", [41])
    with pytest.raises(BadCursor, match="another table"):
        decode_cursor(token, "owners", "id", 1)
    with pytest.raises(BadCursor, match="another sort order"):
        decode_cursor(token, "items", "-id", 1)


def test_a_signed_but_malformed_payload_is_refused():
    wrong_length = signing.dumps({"t": "items", "o": "id", "d": "next", "k": [1, 2]}, salt=SALT)
    with pytest.raises(BadCursor, match="no longer fits"):
        decode_cursor(wrong_length, "items", "id", 1)
    bad_tag = signing.dumps({"t": "items", "o": "id", "d": "next", "k": [{"zz": 1}]}, salt=SALT)
    with pytest.raises(BadCursor, match="cannot be read"):
        decode_cursor(bad_tag, "items", "id", 1)
