"""±infinity dates and timestamps on the console's connections to the target (real database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from sqlalchemy import Connection

from dashboard.infinite_dates import (
    DATE_INFINITY,
    DATE_MINUS_INFINITY,
    TIMESTAMP_INFINITY,
    TIMESTAMPTZ_MINUS_INFINITY,
    InfiniteDate,
    InfiniteDatetime,
    infinity_text,
)
from dashboard.target import driver_connection, run_read
from tests.dashboard.data.conftest import owner_url

pytestmark = pytest.mark.django_db

VALUES_SQL = (
    "SELECT 'infinity'::date, '-infinity'::date, '9999-12-31'::date, '2025-01-31'::date, "
    "'infinity'::timestamp, '-infinity'::timestamp, '2025-01-31 10:00'::timestamp, "
    "'infinity'::timestamptz, '-infinity'::timestamptz, '2025-01-31 10:00+00'::timestamptz, "
    "ARRAY['infinity', '2025-01-31']::date[]"
)


def _values(binary: bool) -> tuple:
    def work(conn: Connection) -> tuple:
        with driver_connection(conn).cursor(binary=binary) as cur:
            row = cur.execute(VALUES_SQL).fetchone()
            assert row is not None
            return tuple(row)

    return run_read(work)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_infinite_values_load_as_sentinels_and_finite_ones_as_before(binary):
    values = _values(binary)
    texts = [infinity_text(value) for value in values[:10]]
    assert texts == [
        "infinity", "-infinity", None, None,
        "infinity", "-infinity", None,
        "infinity", "-infinity", None,
    ]  # fmt: skip
    assert isinstance(values[0], InfiniteDate) and values[0] == date.max
    assert values[1] == date.min and isinstance(values[4], InfiniteDatetime)
    assert values[4] == datetime.max and values[4].tzinfo is None
    assert values[7].tzinfo is not None and values[8].replace(tzinfo=None) == datetime.min
    # A real 9999-12-31 is a plain date: equal to date.max, yet not infinity.
    assert type(values[2]) is date and values[2] == date(9999, 12, 31)
    assert type(values[3]) is date and values[3] == date(2025, 1, 31)
    assert type(values[6]) is datetime and values[6] == datetime(2025, 1, 31, 10)
    assert type(values[9]) is datetime
    assert values[9] == datetime(2025, 1, 31, 10, tzinfo=UTC)
    assert infinity_text(values[10][0]) == "infinity" and values[10][1] == date(2025, 1, 31)


@pytest.mark.parametrize("format_", ["%s", "%t", "%b"], ids=["auto", "text", "binary"])
def test_infinite_values_are_sent_back_as_infinity(format_):
    sql = (
        f"SELECT {format_}::date = 'infinity'::date, {format_}::date = '-infinity'::date, "
        f"{format_}::timestamp = 'infinity'::timestamp, "
        f"{format_}::timestamptz = '-infinity'::timestamptz, {format_}::date, "
        f"{format_}::timestamp"
    )
    args = (
        DATE_INFINITY,
        DATE_MINUS_INFINITY,
        TIMESTAMP_INFINITY,
        TIMESTAMPTZ_MINUS_INFINITY,
        date(9999, 12, 31),
        datetime(2025, 1, 31, 10),
    )

    def work(conn: Connection) -> tuple:
        row = driver_connection(conn).execute(sql, args).fetchone()
        assert row is not None
        return tuple(row)

    row = run_read(work)
    assert row[:4] == (True, True, True, True)
    assert type(row[4]) is date and row[4] == date(9999, 12, 31)  # a real date stays one
    assert row[5] == datetime(2025, 1, 31, 10)


def test_psycopg_itself_is_left_alone():
    """Only the console's connections to the target know infinity: psycopg's global adapters
    (used by everything else, Django's own database included) still refuse it."""
    with (
        psycopg.connect(owner_url()) as conn,
        pytest.raises(psycopg.DataError, match="date too large"),
    ):
        conn.execute("SELECT 'infinity'::date").fetchone()
