"""List cells: a long value is cut with all of it in the cell's title, and the cell opens from
the keyboard too; a timestamp is never cut."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dashboard.data.cells import (
    PREVIEW_CHARS,
    TITLE_CHARS,
    cell_title,
    list_cell,
    row_html,
    to_text,
)
from dashboard.data.columns import ColumnInfo
from dashboard.infinite_dates import (
    DATE_INFINITY,
    DATE_MINUS_INFINITY,
    TIMESTAMP_MINUS_INFINITY,
    TIMESTAMPTZ_INFINITY,
)


def column(kind: str, *, masked: bool = False) -> ColumnInfo:
    return ColumnInfo(
        name="c", kind=kind, type_label=kind, nullable=True, primary_key=False, masked=masked
    )


TEXT = column("text")


def test_a_value_longer_than_a_narrow_column_is_cut_with_all_of_it_in_its_title():
    short = list_cell(TEXT, "x" * TITLE_CHARS)
    longer = list_cell(TEXT, 'A <b>"long"</b> & plain value, past ' + "y" * TITLE_CHARS)
    assert cell_title(short) == "" and row_html([short]) == f'<td class="text">{"x" * 24}</td>'
    assert cell_title(longer) == longer.text
    assert row_html([longer]) == (
        '<td class="text cut" tabindex="0" title="A &lt;b&gt;&quot;long&quot;&lt;/b&gt; &amp; '
        f'plain value, past {"y" * 24}">A &lt;b&gt;&quot;long&quot;&lt;/b&gt; &amp; plain value, '
        f"past {'y' * 24}</td>"
    )


def test_a_value_longer_than_the_list_reads_says_where_the_rest_is():
    cell = list_cell(TEXT, "z" * (PREVIEW_CHARS + 1))  # the list reads PREVIEW_CHARS + 1
    assert cell.truncated and cell.text == "z" * PREVIEW_CHARS + "…"
    assert cell_title(cell) == cell.text + " (open the row to read all of it)"
    assert 'class="text cut" tabindex="0"' in row_html([cell])


@pytest.mark.parametrize(
    ("info", "value"),
    [
        (column("timestamp"), datetime(2025, 2, 1, 9, 0, 0, 123456, tzinfo=UTC)),
        (column("uuid"), "0cc175b9-c0f1-b6a8-31c3-99e269772661"),
        (column("number"), 123456789012345678901234567890),
        (TEXT, None),
        (column("text", masked=True), "a secret longer than a narrow column is"),
    ],
)
def test_timestamps_and_other_values_read_whole_are_never_cut(info, value):
    cell = list_cell(info, value)
    assert len(cell.text) > TITLE_CHARS or cell.null or cell.masked
    assert cell_title(cell) == ""
    html = row_html([cell])
    assert " cut" not in html and "title=" not in html.split(">", 1)[0]
    assert "tabindex" not in html


def test_infinite_dates_and_timestamps_are_written_as_postgresql_writes_them():
    assert [
        to_text(v)
        for v in (
            DATE_INFINITY,
            DATE_MINUS_INFINITY,
            TIMESTAMPTZ_INFINITY,
            TIMESTAMP_MINUS_INFINITY,
        )
    ] == ["infinity", "-infinity", "infinity", "-infinity"]
    # The real last day Python holds is a date like any other.
    assert to_text(date(9999, 12, 31)) == "9999-12-31"
    assert to_text(datetime(9999, 12, 31, 23, 59, 59, 999999)) == "9999-12-31 23:59:59.999999"
    assert list_cell(column("timestamp"), TIMESTAMPTZ_INFINITY).text == "infinity"
