"""Statements that touch a masked column get no EXPLAIN ANALYZE (its row counts would leak)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

from dashboard.queries.plan_masking import masked_column_refusal

METADATA = MetaData()
TABLES = {
    "accounts": Table(
        "accounts",
        METADATA,
        Column("id", Integer, primary_key=True),
        Column("email", Text),
        Column("api_token", Text),
        Column("sort_key", Text),
        Column("notes", Text),
        Column("apitoken", Text),  # `APIToken` in a model, folded by PostgreSQL
        schema="public",
    ),
    "orders": Table(
        "orders",
        METADATA,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer),
        Column("total", Integer),
        schema="public",
    ),
}


def refusal(query: str) -> str | None:
    return masked_column_refusal(query, TABLES, "public")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM accounts WHERE api_token LIKE $1",
        "SELECT count(*) FROM accounts AS a WHERE a.api_token >= $1",
        "SELECT id FROM accounts ORDER BY api_token LIMIT 1",
        "SELECT api_token FROM accounts WHERE id = $1",
        "SELECT * FROM orders WHERE account_id IN (SELECT id FROM accounts WHERE api_token = $1)",
        "SELECT * FROM (SELECT api_token AS t FROM accounts) AS s WHERE t LIKE $1",
        'SELECT count(*) FROM view_of_accounts WHERE "apiToken" LIKE $1',  # camelCase, a view
        "SELECT id FROM accounts WHERE APIToken LIKE $1",  # unquoted: folded to apitoken
        "SELECT count(*) FROM view_of_accounts WHERE access_key_id LIKE $1",
    ],
)
def test_naming_a_masked_column_anywhere_refuses_analyze(query):
    sentence = refusal(query)
    assert sentence and "a masked column" in sentence and "character by character" in sentence


def test_the_sentence_names_the_table_and_column():
    assert "reads accounts.api_token" in refusal("SELECT 1 FROM accounts WHERE api_token = $1")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM accounts AS a WHERE a::text LIKE $1",
        "SELECT count(*) FROM accounts AS a WHERE row(a.*)::text LIKE $1",
        "SELECT count(*) FROM accounts AS a WHERE to_jsonb(a) ->> 'api_token' LIKE $1",
        "SELECT count(*) FROM (SELECT * FROM accounts) AS s WHERE s::text LIKE $1",
        "SELECT DISTINCT * FROM accounts",
        "SELECT count(*) FROM accounts NATURAL JOIN orders",
    ],
)
def test_whole_rows_of_a_table_with_masked_columns_refuse_analyze(query):
    assert refusal(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM accounts WHERE id = $1",  # the star only lists the columns
        "SELECT a.* FROM accounts AS a JOIN orders AS o ON o.account_id = a.id WHERE o.total > $1",
        "SELECT count(*) FROM orders WHERE total > $1",
        "SELECT o FROM orders AS o",  # whole rows of a table with nothing masked
    ],
)
def test_statements_that_do_not_touch_masked_columns_pass(query):
    assert refusal(query) is None


def test_display_settings_unmask_and_hide(tmp_path, settings):
    display = tmp_path / "display.json"
    display.write_text(
        json.dumps(
            {
                "tables": {
                    "accounts": {"unmasked_columns": ["sort_key"], "hidden_columns": ["notes"]}
                }
            }
        )
    )
    settings.DATA_DISPLAY_FILE = str(display)
    assert refusal("SELECT id FROM accounts ORDER BY sort_key") is None
    assert "accounts.notes" in refusal("SELECT id FROM accounts WHERE notes LIKE $1")
    settings.DATA_DISPLAY_FILE = ""
    assert "accounts.sort_key" in refusal("SELECT id FROM accounts ORDER BY sort_key")
