"""The Data browser scoped to one end-user (`?scope_user=`): gate, rows, links, audit.

The crawl over every data URL shape is in test_access_crawl.py."""

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
    assert response["Location"] == (
        "/users/reason/?subject=acc_alice&next=%2Fdata%2Fust_order_items%2F%3Fscope_user%3Dacc_alice"
    )
    partial = support_client.get(
        "/data/ust_order_items/?scope_user=acc_alice&o=-id",
        HTTP_HX_CURRENT_URL="http://testserver/data/ust_order_items/?scope_user=acc_alice",
        **htmx_headers,
    )
    assert partial["HX-Redirect"] == response["Location"]  # the whole page, back to the page
    assert not AuditEvent.objects.exists()


def test_the_reason_form_comes_back_to_the_scoped_list(support_client):
    asked = support_client.get("/data/ust_order_items/?scope_user=acc_alice")["Location"]
    form = support_client.get(asked)
    assert form.status_code == 200 and "acc_alice" in text(form)
    back = support_client.post(
        "/users/reason/",
        {
            "reason": "SUP-9 missing items",
            "subject": "acc_alice",
            "next": "/data/ust_order_items/?scope_user=acc_alice",
        },
    )
    assert back["Location"] == "/data/ust_order_items/?scope_user=acc_alice"
    assert support_client.get(back["Location"]).status_code == 200
    # The reason is for acc_alice only: another end-user, or browsing, asks again.
    assert support_client.get("/data/ust_order_items/?scope_user=acc_bob").status_code == 302
    assert support_client.get("/data/ust_order_items/").status_code == 302


def test_the_reason_form_only_goes_back_into_the_console(support_client):
    for outside in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = support_client.post("/users/reason/", {"reason": "SUP-9 check", "next": outside})
        assert response["Location"] == "/data/"


def test_scoped_list_shows_only_that_users_rows_with_a_banner(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9 missing items"})
    response = support_client.get("/data/ust_order_items/?scope_user=acc_alice&n=200")
    assert response.status_code == 200
    page = text(response)
    assert "Only the rows of end-user acc_alice" in page
    assert all(sku in page for sku in skus("acc_alice"))
    assert not any(sku in page for sku in skus("acc_bob"))
    event = AuditEvent.objects.get(action="data.list")
    assert event.subject_user == "acc_alice"
    assert event.tables == ["ust_order_items"]
    assert event.reason == "SUP-9 missing items"
    assert event.detail["scope"] == (
        "ust_order_items.order_id → ust_orders.id, ust_orders.account_id → ust_accounts.id"
    )
    assert event.detail["rows"] == {
        "count": len(skus("acc_alice")),
        "first": {"id": _item_ids("acc_alice")[0]},
        "last": {"id": _item_ids("acc_alice")[-1]},
    }


def test_scope_survives_filtering_and_paging(support_client):
    support_client.post("/users/u/acc_bob/", {"reason": "SUP-9"})
    response = support_client.get("/data/ust_order_items/?scope_user=acc_bob&n=25")
    page = response.context["page"]
    assert page.next_url and "scope_user=acc_bob" in page.next_url
    following = text(support_client.get(page.next_url))
    assert "Only the rows of end-user acc_bob" in following
    assert not any(sku in following for sku in skus("acc_alice"))
    assert 'name="scope_user" value="acc_bob"' in text(response)  # kept by the filter form


def test_one_list_shape_shows_each_end_users_own_rows_whatever_was_viewed_before(
    support_client,
):
    """The statement of an unnarrowed list is kept per table and shape: the same shape viewed
    unscoped, then for one end-user, then another, must never reuse another's rows."""
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-9"})
    support_client.post("/users/u/acc_bob/", {"reason": "SUP-9"})
    support_client.post("/users/reason/", {"reason": "SUP-9 browse"})
    seen: dict[str, str] = {}
    for subject in ["", "acc_alice", "acc_bob", "acc_alice", ""]:
        scope = f"&scope_user={subject}" if subject else ""
        response = support_client.get(f"/data/ust_order_items/?n=200{scope}")
        assert response.status_code == 200
        seen[subject] = text(response)
        if subject:
            others = {"acc_alice": "acc_bob", "acc_bob": "acc_alice"}[subject]
            assert all(sku in seen[subject] for sku in skus(subject))
            assert not any(sku in seen[subject] for sku in skus(others))
    assert all(sku in seen[""] for sku in skus("acc_alice") + skus("acc_bob"))


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
    before = AuditEvent.objects.count()

    response = support_client.get(
        f"/data/ust_order_items/row/?pk.id={alice_item}&scope_user=acc_alice"
    )
    assert response.status_code == 200
    assert "Only the rows of end-user acc_alice" in text(response)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert (event.action, event.subject_user) == ("data.row", "acc_alice")
    assert event.detail["rows"] == {"keys": [{"id": alice_item}]}


def test_a_row_of_another_user_is_not_found_in_scope(support_client):
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-11"})
    bob_item = _item_ids("acc_bob")[0]
    scoped = support_client.get(f"/data/ust_order_items/row/?pk.id={bob_item}&scope_user=acc_alice")
    assert scoped.status_code == 404
    assert "belongs to the end-user in scope" in text(scoped)
    # Without the scope the same row is an ordinary row page, after a reason for browsing.
    support_client.post("/users/reason/", {"reason": "SUP-11 browse"})
    assert support_client.get(f"/data/ust_order_items/row/?pk.id={bob_item}").status_code == 200
