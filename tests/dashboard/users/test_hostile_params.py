"""Hostile values on the support pages: a 400 with a sentence, never a 5xx, and end-user ids
of any shape have working pages."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from dashboard.audit.models import AuditEvent
from tests.dashboard.users.conftest import owner_url

pytestmark = pytest.mark.usefixtures("shop")

ODD_IDS = ["acc/odd 50%?#", "acc_odd\nline", "acc_odd ünï"]


@pytest.fixture
def client(support_client):
    support_client.raise_request_exception = False
    return support_client


@pytest.fixture
def odd_accounts():
    import psycopg

    with psycopg.connect(owner_url(), autocommit=True) as conn:
        for number, subject in enumerate(ODD_IDS):
            conn.execute(
                "INSERT INTO ust_accounts (id, email) VALUES (%s, %s)",
                (subject, f"odd{number}@example.com"),
            )
            conn.execute("INSERT INTO ust_orders (account_id, total) VALUES (%s, 1)", (subject,))
    yield
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM ust_accounts WHERE id = ANY(%s)", (ODD_IDS,))


@pytest.mark.parametrize("value", ["", "acc%0D%0Aalice", "acc%0Aalice", "acc%09alice"])
def test_an_empty_or_multi_line_scope_user_is_a_400(client, htmx_headers, value):
    # An empty id or a line break made reverse("users:detail") raise NoReverseMatch: a 500.
    url = f"/data/ust_orders/?scope_user={value}"
    response = client.get(url)
    assert response.status_code == 400
    assert "“scope_user” must be a name or id" in response.content.decode()
    partial = client.get(url, **htmx_headers)
    assert partial.status_code == 400 and "<html" not in partial.content.decode()


def test_a_reason_with_a_nul_is_a_400_and_is_not_kept(client):
    response = client.post("/users/u/acc_alice/", {"reason": "SUP-1\x00 lookup"})
    assert response.status_code == 400
    assert "“reason” must be text without NUL characters." in response.content.decode()
    after = client.get("/users/u/acc_alice/")
    assert after.status_code == 200 and after.context["gate"]  # still asks for a reason
    assert not AuditEvent.objects.filter(reason__contains="SUP-1").exists()


def test_users_with_odd_ids_have_working_pages(client, odd_accounts):
    client.post(reverse("users:reason"), {"reason": "SUP-7 odd ids"})  # searching needs one
    found = client.get("/users/?q=acc")
    assert found.status_code == 200
    hrefs = {unescape(h) for h in re.findall(r'href="(/users/u/[^"]+)"', found.content.decode())}
    for subject in ODD_IDS:
        url = reverse("users:detail", args=[subject])
        assert url in hrefs, subject
        assert client.get(url).status_code == 200  # the reason gate
        assert client.post(url, {"reason": "SUP-7 odd ids"}).status_code == 302
        page = client.get(url)
        assert page.status_code == 200 and page.context["subject"] == subject, subject
    # Scoping the Data browser takes any id without control characters.
    scoped = client.get("/data/ust_orders/", {"scope_user": ODD_IDS[0]})
    assert scoped.status_code == 200 and len(scoped.context["page"].rows) == 1
