"""The Data browser scoped to one end-user (`?scope_user=`): gate, rows, links, audit."""

from __future__ import annotations

import csv
import io

import pytest

from dashboard.audit.models import AuditEvent
from tests.dashboard.users.conftest import target_rows

pytestmark = pytest.mark.usefixtures("shop")

ITEMS_SQL = (
    "SELECT i.sku FROM ust_order_items AS i JOIN ust_orders AS o ON o.id = i.order_id "
    "WHERE o.account_id = %s ORDER BY i.id"
)


def skus(subject: str) -> list[str]:
    return [row[0] for row in target_rows(ITEMS_SQL, (subject,))]


def text(response) -> str:
    return response.content.decode()


def test_viewer_cannot_scope_to_a_user(viewer_client):
    response = viewer_client.get("/data/ust_order_items/?scope_user=acc_alice")
    assert response.status_code == 403


def test_without_a_reason_the_gate_comes_first(support_client, htmx_headers):
    response = support_client.get("/data/ust_order_items/?scope_user=acc_alice")
    assert response.status_code == 302
    assert response["Location"] == "/users/u/acc_alice/"
    partial = support_client.get("/data/ust_order_items/?scope_user=acc_alice", **htmx_headers)
    assert partial["HX-Redirect"] == "/users/u/acc_alice/"
    assert not AuditEvent.objects.filter(action="user.browse").exists()


def test_scoped_list_shows_only_that_users_rows_with_a_banner(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9 missing items"})
    response = support_client.get("/data/ust_order_items/?scope_user=acc_alice&n=200")
    assert response.status_code == 200
    page = text(response)
    assert "Only the rows of end-user acc_alice" in page
    assert all(sku in page for sku in skus("acc_alice"))
    assert not any(sku in page for sku in skus("acc_bob"))
    event = AuditEvent.objects.get(action="user.browse")
    assert event.subject_user == "acc_alice"
    assert event.tables == ["ust_order_items"]
    assert event.reason == "SUP-9 missing items"


def test_scope_survives_filtering_and_paging(support_client):
    support_client.post("/users/u/acc_bob/", {"reason": "SUP-9"})
    response = support_client.get("/data/ust_order_items/?scope_user=acc_bob&n=25")
    page = response.context["page"]
    assert page.next_url and "scope_user=acc_bob" in page.next_url
    following = text(support_client.get(page.next_url))
    assert "Only the rows of end-user acc_bob" in following
    assert not any(sku in following for sku in skus("acc_alice"))
    assert 'name="scope_user" value="acc_bob"' in text(response)  # kept by the filter form


def test_scoped_export_holds_only_that_users_rows(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9"})
    response = support_client.get("/data/ust_order_items/export.csv?scope_user=acc_alice")
    body = b"".join(response.streaming_content).decode()
    exported = [row["sku"] for row in csv.DictReader(io.StringIO(body))]
    assert exported == skus("acc_alice")


def test_a_table_not_linked_to_users_cannot_be_scoped(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9"})
    response = support_client.get("/data/ust_shipments/?scope_user=acc_alice")
    assert response.status_code == 404
    assert "not linked to ust_accounts" in text(response)


def test_user_page_links_into_the_scoped_data_browser(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9"})
    page = text(support_client.get("/users/u/acc_alice/"))
    assert 'href="/data/ust_order_items/?scope_user=acc_alice"' in page


def _item_ids(subject: str) -> list[int]:
    return [
        row[0]
        for row in target_rows(
            "SELECT i.id FROM ust_order_items AS i JOIN ust_orders AS o ON o.id = i.order_id "
            "WHERE o.account_id = %s ORDER BY i.id",
            (subject,),
        )
    ]


def test_rows_opened_from_a_scoped_list_stay_in_scope_and_are_audited(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-10 one item"})
    listing = text(support_client.get("/data/ust_order_items/?scope_user=acc_alice"))
    alice_item = _item_ids("acc_alice")[0]
    # The list's row links carry the scope.
    assert f"pk.id={alice_item}&amp;scope_user=acc_alice" in listing
    before = AuditEvent.objects.filter(action="user.browse").count()

    response = support_client.get(
        f"/data/ust_order_items/row/?pk.id={alice_item}&scope_user=acc_alice"
    )
    assert response.status_code == 200
    assert "Only the rows of end-user acc_alice" in text(response)
    assert AuditEvent.objects.filter(action="user.browse").count() == before + 1
    assert AuditEvent.objects.filter(action="user.browse").first().detail["action"] == "row"


def test_a_row_of_another_user_is_not_found_in_scope(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-11"})
    bob_item = _item_ids("acc_bob")[0]
    scoped = support_client.get(f"/data/ust_order_items/row/?pk.id={bob_item}&scope_user=acc_alice")
    assert scoped.status_code == 404
    assert "belongs to the end-user in scope" in text(scoped)
    # Without the scope the same row is an ordinary row page.
    assert support_client.get(f"/data/ust_order_items/row/?pk.id={bob_item}").status_code == 200
