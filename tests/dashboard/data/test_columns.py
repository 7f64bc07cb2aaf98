"""Column kinds, CHECK-constraint choices and typed input, on the real test tables."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from dashboard.data.cells import full_cell, list_cell
from dashboard.data.column_input import BadValue, parse_value
from dashboard.data.columns import choices_from_check, describe_columns
from dashboard.schema.reflection import table_named

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(tables):
    return describe_columns(table_named("datab_items"), set())


def test_kinds_follow_the_reflected_types(items):
    kinds = {name: info.kind for name, info in items.items()}
    assert kinds == {
        "id": "integer",
        "owner_id": "text",
        "title": "text",
        "body": "text",
        "status": "text",
        "mood": "enum",
        "score": "number",
        "ratio": "number",
        "done": "boolean",
        "due": "date",
        "created_at": "timestamp",
        "tags": "array",
        "meta": "json",
        "blob": "bytes",
        "uid": "uuid",
    }
    assert items["created_at"].timezone
    assert items["owner_id"].foreign_table == "datab_owners"
    assert not items["meta"].sortable and items["created_at"].sortable


def test_check_in_list_and_enum_become_choices(items):
    # Postgres stores `status IN (...)` as `status = ANY (ARRAY[...])`: parsed from the catalog.
    assert items["status"].choices == ("open", "done", "archived")
    assert items["mood"].choices == ("calm", "busy", "stressed")
    assert items["title"].choices == ()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("status IN ('a', 'b''c')", ("status", ("a", "b'c"))),
        (
            "(kind)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])::text[])",
            ("kind", ("x", "y")),
        ),
        ("level = ANY (ARRAY[1, 2, 3])", ("level", ("1", "2", "3"))),
        ("price > 0", None),
        ("status IN ('a', NULL)", None),
        ("lower(status) IN ('a')", None),
        ("not sql at all (", None),
    ],
)
def test_choices_from_check_definitions(sql, expected):
    assert choices_from_check(sql) == expected


def test_parse_value_by_kind(items):
    assert parse_value(items["id"], " 42 ").value == 42
    assert parse_value(items["done"], "Yes").value is True
    assert parse_value(items["due"], "2025-03-01").value == date(2025, 3, 1)
    stamp = parse_value(items["created_at"], "2025-02-01 08:00")
    assert stamp.value == datetime(2025, 2, 1, 8, 0, tzinfo=UTC) and not stamp.whole_day
    assert parse_value(items["created_at"], "2025-02-01").whole_day
    assert parse_value(items["uid"], str(uuid.UUID(int=5))).value == uuid.UUID(int=5)
    assert parse_value(items["status"], "done").value == "done"
    assert parse_value(items["title"], "  spaced  ").value == "  spaced  "


@pytest.mark.parametrize(
    ("column", "raw", "message"),
    [
        ("id", "abc", "whole number"),
        ("id", "99999999999999999999", "from -9,223,372,036,854,775,808 to 9,223,372,036"),
        ("score", "1,5", "a number"),
        ("score", "NaN", "finite"),
        ("done", "maybe", "true or false"),
        ("due", "31/01/2025", "YYYY-MM-DD"),
        ("created_at", "yesterday", "date and time"),
        ("uid", "not-a-uuid", "UUID"),
        ("status", "closed", "Choose one of: open, done, archived"),
        ("title", "nul\x00byte", "NUL"),
        ("id", "", "Enter a value"),
    ],
)
def test_parse_value_explains_what_is_wrong(items, column, raw, message):
    with pytest.raises(BadValue, match=message):
        parse_value(items[column], raw)


def test_cells_for_lists_and_rows(items):
    assert list_cell(items["title"], "x" * 300).truncated
    assert list_cell(items["blob"], 3).text == "3 bytes"
    assert list_cell(items["ratio"], None).null
    pretty = full_cell(items["meta"], {"b": 1, "a": [1, 2]}).pretty
    assert pretty.startswith("{\n") and '"a": [' in pretty
    assert full_cell(items["tags"], ["red", "green"]).items == ["red", "green"]
    assert full_cell(items["body"], "line\n" * 10).folded
    assert not full_cell(items["body"], "short").folded
