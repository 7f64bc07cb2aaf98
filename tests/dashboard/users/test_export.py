"""The export: one valid JSON document, streamed, with all of one user's rows and no other's."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from django.http import StreamingHttpResponse

from dashboard.audit.models import AuditEvent
from dashboard.users.export import MASKED, export_document
from dashboard.users.ownership import ownership_map
from tests.dashboard.users.conftest import owner_url, target_rows

pytestmark = pytest.mark.usefixtures("shop")

ROWS_OF = {
    "ust_accounts": "SELECT id FROM ust_accounts WHERE id = %s",
    "ust_orders": "SELECT id FROM ust_orders WHERE account_id = %s",
    "ust_order_items": "SELECT i.id FROM ust_order_items AS i "
    "JOIN ust_orders AS o ON o.id = i.order_id WHERE o.account_id = %s",
    "ust_payments": "SELECT id FROM ust_payments WHERE account_id = %s",
    "ust_notes": "SELECT id FROM ust_notes WHERE author = %s",
}


def ids(sql: str, subject: str) -> list:
    return sorted(row[0] for row in target_rows(sql, (subject,)))


@pytest.mark.parametrize("batch_rows", [2, 1000])
def test_document_has_every_row_of_the_user_and_none_of_another(batch_rows):
    pieces = list(export_document(ownership_map(), "acc_bob", "acc_bob", batch_rows))
    assert len(pieces) > len(ROWS_OF)  # written piece by piece, not in one go
    document = json.loads("".join(pieces))
    assert document["complete"] is True
    assert document["errors"] == []
    for table, sql in ROWS_OF.items():
        exported = [row["id"] for row in document["tables"][table]]
        assert exported == ids(sql, "acc_bob"), table  # all of them, in key order
        assert not set(exported) & set(ids(sql, "acc_alice")), table


def test_header_names_the_user_and_each_tables_path():
    document = json.loads("".join(export_document(ownership_map(), "acc_alice", "acc_alice", 50)))
    header = document["export"]
    assert header["user"] == {"table": "ust_accounts", "key_column": "id", "id": "acc_alice"}
    assert header["generated_at"]
    paths = {table["name"]: table for table in header["tables"]}
    assert paths["ust_order_items"]["path"] == "ust_order_items → ust_orders → ust_accounts"
    assert paths["ust_notes"]["linked_by"] == ["USER_LINKS"]
    assert paths["ust_accounts"]["masked_columns"] == ["password_hash"]
    assert set(paths) == set(document["tables"])


def test_values_are_json_friendly_and_secrets_masked():
    document = json.loads("".join(export_document(ownership_map(), "acc_alice", "acc_alice", 50)))
    (account,) = document["tables"]["ust_accounts"]
    assert account["password_hash"] == MASKED
    assert account["email"] == "alice@example.com"
    assert "T" in account["created_at"]  # ISO 8601
    totals = sorted(order["total"] for order in document["tables"]["ust_orders"])
    assert totals == ["10.00", "20.00", "30.00"]  # numeric as text: no float rounding


def test_export_view_streams_and_is_audited(support_client):
    subject = "acc_alice"
    support_client.post(f"/users/u/{subject}/", {"reason": "DSAR-7 access request"})
    response = support_client.get(f"/users/export/{subject}/")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(b"".join(response.streaming_content))
    assert [row["id"] for row in document["tables"]["ust_orders"]] == ids(
        ROWS_OF["ust_orders"], subject
    )
    event = AuditEvent.objects.get(action="user.export")
    assert event.subject_user == subject
    assert event.reason == "DSAR-7 access request"
    assert event.operator_name == "sue-support"
    assert set(event.tables) == set(document["tables"])


def test_export_without_a_reason_goes_to_the_gate(support_client):
    response = support_client.get("/users/export/acc_alice/")
    assert response.status_code == 302
    assert response["Location"] == "/users/u/acc_alice/"
    assert not AuditEvent.objects.filter(action="user.export").exists()


def test_a_table_that_cannot_be_read_is_reported_and_the_json_stays_valid(settings):
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 100}
    owners = ownership_map()
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(owner_url()) as conn:
            conn.execute("LOCK TABLE ust_notes IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        document = json.loads("".join(export_document(owners, "acc_alice", "acc_alice", 50)))
    finally:
        release.set()
        holder.join()
    assert document["complete"] is False
    assert [error["table"] for error in document["errors"]] == ["ust_notes"]
    assert "locked" in document["errors"][0]["error"]
    assert document["tables"]["ust_notes"] == []
    assert len(document["tables"]["ust_orders"]) == 3  # the other tables are complete
