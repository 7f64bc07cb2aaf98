"""The reason gate keeps a reason per purpose for SUPPORT_REASON_TTL_SECONDS, then asks again.

No sleeping: the time a reason was given is moved back in the stored session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings

from dashboard.users import gate

pytestmark = pytest.mark.usefixtures("shop")

ALICE_SLOT = gate.for_user("ust_accounts", "acc_alice").slot


def given(client, slot: str, seconds_ago: int) -> None:
    """Pretend the reason of `slot` was given `seconds_ago` seconds ago."""
    session = client.session
    reasons = session[gate.SESSION_KEY]
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    reasons[slot]["at"] = at.isoformat(timespec="seconds")
    session[gate.SESSION_KEY] = reasons
    session.save()


def test_the_default_keeps_a_reason_for_half_an_hour():
    assert django_settings.SUPPORT_REASON_TTL_SECONDS == 1800


def test_an_expired_reason_asks_again_per_purpose(support_client, settings):
    settings.SUPPORT_REASON_TTL_SECONDS = 60
    support_client.post("/users/reason/", {"reason": "SUP-1 browsing"})
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-2 alice"})
    assert support_client.get("/data/ust_orders/").status_code == 200

    given(support_client, gate.BROWSING_SLOT, seconds_ago=58)
    assert support_client.get("/data/ust_orders/").status_code == 200  # not yet
    given(support_client, gate.BROWSING_SLOT, seconds_ago=61)
    expired = support_client.get("/data/ust_orders/?o=-id")
    assert expired.status_code == 302
    assert expired["Location"] == "/users/reason/?next=%2Fdata%2Fust_orders%2F%3Fo%3D-id"
    assert gate.BROWSING_SLOT not in support_client.session[gate.SESSION_KEY]  # dropped

    # Another purpose keeps its own time: alice's reason still holds.
    page = support_client.get("/users/u/acc_alice/").content.decode()
    assert "alice@example.com" in page
    given(support_client, ALICE_SLOT, seconds_ago=61)
    page = support_client.get("/users/u/acc_alice/").content.decode()
    assert 'name="reason"' in page and "alice@example.com" not in page
    assert support_client.get("/data/ust_orders/?scope_user=acc_alice").status_code == 302


def test_using_a_reason_does_not_extend_it(support_client, settings):
    settings.SUPPORT_REASON_TTL_SECONDS = 60
    support_client.post("/users/reason/", {"reason": "SUP-1 browsing"})
    given(support_client, gate.BROWSING_SLOT, seconds_ago=50)
    assert support_client.get("/data/ust_orders/").status_code == 200
    given(support_client, gate.BROWSING_SLOT, seconds_ago=61)  # 50 s + 11 s since it was given
    assert support_client.get("/data/ust_orders/").status_code == 302


def test_an_htmx_part_after_expiry_sends_the_whole_page_to_the_form(support_client, settings):
    settings.SUPPORT_REASON_TTL_SECONDS = 60
    support_client.post("/users/reason/", {"reason": "SUP-1 browsing"})
    given(support_client, gate.BROWSING_SLOT, seconds_ago=3600)
    response = support_client.get(
        "/data/ust_orders/count/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/data/ust_orders/?o=-total",
    )
    assert response["HX-Redirect"] == "/users/reason/?next=%2Fdata%2Fust_orders%2F%3Fo%3D-total"


def test_expired_end_users_leave_the_recent_list(support_client, settings):
    settings.SUPPORT_REASON_TTL_SECONDS = 60
    support_client.post("/users/u/acc_alice/", {"reason": "SUP-2 alice"})
    support_client.post("/users/u/acc_bob/", {"reason": "SUP-3 bob"})
    given(support_client, ALICE_SLOT, seconds_ago=61)
    recent = support_client.get("/users/").context["recent"]
    assert [item["subject"] for item in recent] == ["acc_bob"]


def test_the_next_form_offers_the_latest_reason(support_client):
    support_client.post("/users/reason/", {"reason": "SUP-77 refund dispute"})
    form = support_client.get("/users/u/acc_alice/").content.decode()
    assert 'value="SUP-77 refund dispute"' in form  # offered, not given: the form still asks
    assert "alice@example.com" not in form
