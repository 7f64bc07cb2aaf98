"""A column the display settings hide ("never shown or exported") is never shown in clear on the
pages that show one end-user's rows, in their JSON export, in a change's preview or in the
audit trail: the same rule as the Data browser's, whatever the column is called.

(ust_accounts.name and ust_notes.body look like nothing secret: only the setting hides them.)
"""

from __future__ import annotations

import json

import pytest
from django.http import QueryDict, StreamingHttpResponse

from dashboard.data import display
from dashboard.data.query import ListQuery
from dashboard.row_text import masked_names
from dashboard.schema.reflection import reflection

pytestmark = pytest.mark.usefixtures("shop")

HIDDEN = {"ust_accounts": ["name"], "ust_notes": ["body"]}
SECRETS = ("Alice Adams", "Called about a refund")


@pytest.fixture
def hidden(tmp_path, settings):
    path = tmp_path / "display.json"
    path.write_text(json.dumps({"tables": {t: {"hidden_columns": c} for t, c in HIDDEN.items()}}))
    settings.DATA_DISPLAY_FILE = str(path)
    display._cache.update({"key": None, "tables": {}})
    yield
    display._cache.update({"key": None, "tables": {}})


def body(response) -> str:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_the_data_browser_never_shows_them(hidden, support_client):
    support_client.post("/users/reason/", {"reason": "SUP-3 browsing"})
    page = body(support_client.get("/data/ust_accounts/row/?pk.id=acc_alice"))
    assert "alice@example.com" in page and "Alice Adams" not in page
    table = reflection().tables["ust_accounts"]
    query = ListQuery(table, QueryDict(), display=display.display_for(table.name))
    assert "name" not in query.visible


def test_one_rule_masks_them_wherever_rows_are_shown_or_recorded(hidden):
    """The time machine's pages, the change forms, their previews and the write door's audit
    images all take their masked columns from this one rule."""
    tables = reflection().tables
    for name, columns in HIDDEN.items():
        assert set(columns) <= masked_names(tables[name]), name
    assert "password_hash" in masked_names(tables["ust_accounts"])  # the secret-looking ones


def test_the_user_page_and_the_json_export_never_show_them(hidden, support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-4 alice"})
    page = body(support_client.get("/users/u/acc_alice/"))
    assert "alice@example.com" in page
    export = body(support_client.get("/users/export/acc_alice/"))
    assert "alice@example.com" in export
    for text in SECRETS:
        assert text not in page, text
        assert text not in export, text
