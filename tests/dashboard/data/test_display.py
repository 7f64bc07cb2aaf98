"""Per-table display settings: read from JSON or TOML, checked against the schema."""

from __future__ import annotations

import json

import pytest

from dashboard.data import display
from dashboard.data.display import (
    DisplayFileError,
    display_for,
    display_problems,
    load_display_file,
)
from dashboard.schema.reflection import reflection

pytestmark = pytest.mark.django_db

TOML = """
[tables.datab_items]
list_columns = ["id", "title", "status"]
search_columns = ["title"]
default_order = "-created_at"
hidden_columns = ["blob"]

[tables.datab_owners]
unmasked_columns = ["api_key"]
"""


def test_toml_and_json_files_give_the_same_settings(tmp_path):
    toml_file = tmp_path / "display.toml"
    toml_file.write_text(TOML)
    json_file = tmp_path / "display.json"
    json_file.write_text(
        json.dumps(
            {
                "tables": {
                    "datab_items": {
                        "list_columns": ["id", "title", "status"],
                        "search_columns": ["title"],
                        "default_order": "-created_at",
                        "hidden_columns": ["blob"],
                    },
                    "datab_owners": {"unmasked_columns": ["api_key"]},
                }
            }
        )
    )
    from_toml = load_display_file(toml_file)
    assert from_toml == load_display_file(json_file)
    items = from_toml["datab_items"]
    assert items.order_column == "created_at" and items.order_descending
    assert items.list_columns == ("id", "title", "status")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.x]\nlist_columns = 'id'\n", "must be a list of column names"),
        ("[tables.x]\ncolour = 'red'\n", "unknown setting"),
        ("[other]\n", "one top-level key"),
        ("[tables.x\n", "not valid TOML"),
        ("[tables.x]\ndefault_order = 3\n", "must be a column name"),
    ],
)
def test_malformed_files_are_explained(tmp_path, text, message):
    path = tmp_path / "display.toml"
    path.write_text(text)
    with pytest.raises(DisplayFileError, match=message):
        load_display_file(path)


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(DisplayFileError, match="cannot be read"):
        load_display_file(tmp_path / "nope.toml")


def test_problems_name_the_table_and_the_column(tables, tmp_path):
    path = tmp_path / "display.toml"
    path.write_text(
        TOML
        + """
[tables.datab_nope]
list_columns = ["id"]

[tables.datab_orgs]
list_columns = ["id", "colour"]
search_columns = ["id"]
default_order = "-founded"
"""
    )
    problems = display_problems(load_display_file(path), reflection().tables)
    assert problems == [
        "Display settings name table “datab_nope”, which does not exist.",
        "Display settings of table “datab_orgs”: list_columns names column “colour”, "
        "which does not exist.",
        "Display settings of table “datab_orgs”: search column “id” is not a text column, "
        "so the search cannot look into it.",
        "Display settings of table “datab_orgs”: default_order names column “founded”, "
        "which does not exist.",
    ]


def test_pages_read_the_file_named_by_the_setting(tmp_path, settings):
    path = tmp_path / "display.toml"
    path.write_text(TOML)
    settings.DATA_DISPLAY_FILE = str(path)
    assert display_for("datab_items").search_columns == ("title",)
    assert display_for("datab_orgs") == display.DEFAULT
    path.write_text("[tables.x\n")  # broken later: the pages fall back to the defaults
    import os

    os.utime(path, ns=(1, 1))
    assert display_for("datab_items") == display.DEFAULT
