"""CSV export: streamed, filtered like the list, bounded, masked, safe in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from dashboard.audit.models import AuditEvent
from dashboard.data import export as export_module
from dashboard.spreadsheet_cells import safe_cell
from tests.dashboard.data.conftest import ITEMS, owner_execute

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_export_is_the_filtered_sorted_list_streamed(tables, admin_client):
    response = admin_client.get(
        "/data/datab_items/export.csv?c=id&c=title&c=ratio&o=-ratio&f.eq.status=open"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="datab_items.csv"'
    rows = rows_of(response)
    assert rows[0] == ["id", "title", "ratio"]
    expected = owner_execute(
        "SELECT id FROM datab_items WHERE status = 'open' ORDER BY ratio DESC NULLS LAST, id DESC"
    )
    assert [r[0] for r in rows[1:]] == [str(i) for (i,) in expected]


def test_export_goes_through_batches_and_stops_at_the_bound(
    tables, admin_client, monkeypatch, settings
):
    monkeypatch.setattr(export_module, "BATCH_ROWS", 7)
    settings.DATA_EXPORT_MAX_ROWS = 50
    response = admin_client.get("/data/datab_items/export.csv?c=id&o=-created_at")
    assert response["X-Export-Row-Limit"] == "50"
    rows = rows_of(response)
    expected = owner_execute(
        "SELECT id FROM datab_items ORDER BY created_at DESC, id DESC LIMIT 50"
    )
    assert [r[0] for r in rows[1:51]] == [str(i) for (i,) in expected]
    assert rows[51][0].startswith("# export stopped at 50 rows (DATA_EXPORT_MAX_ROWS)")
    assert len(rows) == 52


def test_an_export_that_fits_has_no_note(tables, admin_client, monkeypatch, settings):
    monkeypatch.setattr(export_module, "BATCH_ROWS", 7)
    settings.DATA_EXPORT_MAX_ROWS = ITEMS  # exactly all rows: nothing was left out
    rows = rows_of(admin_client.get("/data/datab_items/export.csv?c=id"))
    assert len(rows) == ITEMS + 1 and not rows[-1][0].startswith("#")


def test_a_table_without_key_exports_by_offset(tables, admin_client, monkeypatch):
    monkeypatch.setattr(export_module, "BATCH_ROWS", 7)
    rows = rows_of(admin_client.get("/data/datab_logs/export.csv?o=at"))
    expected = owner_execute("SELECT message FROM datab_logs ORDER BY at")
    assert [r[2] for r in rows[1:]] == [m for (m,) in expected]


def test_masked_columns_stay_masked_in_exports(tables, admin_client):
    rows = rows_of(
        admin_client.get("/data/datab_owners/export.csv?c=id&c=api_key&c=password_hash&c=monkey")
    )
    secrets = {
        v for row in owner_execute("SELECT api_key, password_hash FROM datab_owners") for v in row
    }
    assert not secrets & {cell for row in rows for cell in row}
    assert rows[1][1:3] == ["********", "********"] and rows[1][3] == "banana 1"


def test_formulas_are_made_inert(tables, admin_client):
    rows = rows_of(admin_client.get("/data/datab_items/export.csv?c=id&c=title&c=body&f.lte.id=4"))
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["2"][1] == '\'=HYPERLINK("http://evil.example")'
    assert by_id["4"][2] == "'+1 and -2"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("-3") == "'-3"
    assert safe_cell("plain") == "plain"


def test_negative_numbers_are_not_prefixed(tables, admin_client):
    rows = rows_of(admin_client.get("/data/datab_items/export.csv?c=id&c=score&f.eq.id=1"))
    assert rows[1] == ["1", "1.25"]


def test_exports_of_tables_not_owned_by_users_need_no_reason_and_no_event(tables, client_for):
    # datab_items has no path to the users table: a lookup table as far as the gate goes.
    # Exports of user-owned tables are checked in tests/dashboard/users/test_access_crawl.py.
    client = client_for("support")
    rows = rows_of(client.get("/data/datab_items/export.csv?f.eq.status=done&q=item"))
    assert len(rows) > 1
    assert not AuditEvent.objects.filter(action="data.export").exists()


def test_the_list_page_states_the_export_bound(tables, admin_client, settings):
    settings.DATA_EXPORT_MAX_ROWS = 1234
    body = admin_client.get("/data/datab_items/").content.decode()
    assert "at most 1234 rows" in body


def test_export_writes_infinity_and_resumes_batches_after_it(
    tables, infinite_table, admin_client, monkeypatch
):
    monkeypatch.setattr(export_module, "BATCH_ROWS", 2)  # batches end on ±infinity keys
    rows = rows_of(admin_client.get(f"/data/{infinite_table}/export.csv?c=id&c=ends&o=-ends"))
    expected = owner_execute(
        f"SELECT id, ends::text FROM {infinite_table} ORDER BY ends DESC NULLS LAST, id DESC"
    )
    # A cell starting with "-" is quoted, as every such cell is (a spreadsheet reads a formula).
    assert rows[1:] == [[str(i), safe_cell(ends or "")] for i, ends in expected]
    assert ["2", "infinity"] in rows and ["7", "'-infinity"] in rows
