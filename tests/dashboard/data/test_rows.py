"""The row page: every column shaped for reading, parent links, first children, bad keys."""

from __future__ import annotations

import html
import re

import pytest

from dashboard.data import rows as rows_module
from tests.dashboard.data.conftest import owner_execute

pytestmark = pytest.mark.django_db


def body_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return html.unescape(response.content.decode())


def test_every_column_is_shown_in_a_readable_shape(tables, admin_client):
    body = body_of(admin_client, "/data/datab_items/row/?pk.id=2")
    (title, blob_size, uid) = owner_execute(
        "SELECT title, octet_length(blob), uid::text FROM datab_items WHERE id = 2"
    )[0]
    assert title in body and uid in body
    assert re.search(r'<pre class="json">\{\n  "n": 2,\n  "nested": \{\n    "even": true', body)
    assert '<ol class="array"><li>red</li><li>green</li></ol>' in body
    assert f"binary, {blob_size} bytes" in body
    assert '<span class="bool true">true</span>' in body


def test_long_text_is_folded(tables, admin_client):
    body = body_of(admin_client, "/data/datab_items/row/?pk.id=1")
    (length,) = owner_execute("SELECT length(body) FROM datab_items WHERE id = 1")[0]
    fold = re.search(
        r'<details class="fold"><summary>(.*?)</summary><pre class="long">', body, re.S
    )
    assert fold and f"({length} characters)" in fold.group(1)


def test_foreign_keys_link_to_their_parent_row(tables, admin_client):
    body = body_of(admin_client, "/data/datab_items/row/?pk.id=7")
    (owner,) = owner_execute("SELECT owner_id FROM datab_items WHERE id = 7")[0]
    assert f'href="/data/datab_owners/row/?pk.id={owner}"' in body


def test_children_are_listed_with_a_link_to_the_full_list(tables, admin_client):
    body = body_of(admin_client, "/data/datab_owners/row/?pk.id=owner_3")
    children = owner_execute(
        "SELECT id FROM datab_items WHERE owner_id = 'owner_3' ORDER BY id LIMIT 10"
    )
    section = re.search(r'aria-label="datab_items rows">(.*?)</section>', body, re.S).group(1)
    assert re.findall(r"/data/datab_items/row/\?pk.id=(\d+)", section) == [
        str(i) for (i,) in children
    ]
    assert 'href="/data/datab_items/?f.eq.owner_id=owner_3"' in section
    assert "all matching rows" in section  # there are more than ten
    assert "owner_id</th>" not in section  # the key this row is known by is not repeated


def test_text_uuid_and_composite_keys(tables, admin_client):
    (org, user) = owner_execute(
        "SELECT org_id, user_uuid::text FROM datab_members ORDER BY user_uuid LIMIT 1"
    )[0]
    body = body_of(admin_client, f"/data/datab_members/row/?pk.org_id={org}&pk.user_uuid={user}")
    assert f"org_id = {org}, user_uuid = {user}" in body
    assert f'href="/data/datab_orgs/row/?pk.id={org}"' in body
    org_page = body_of(admin_client, f"/data/datab_orgs/row/?pk.id={org}")
    assert f"pk.org_id={org}&pk.user_uuid=" in org_page  # children link by composite key
    assert "owner_5" in body_of(admin_client, "/data/datab_owners/row/?pk.id=owner_5")


def test_list_rows_link_to_row_pages_that_open(tables, admin_client):
    listing = html.unescape(admin_client.get("/data/datab_members/").content.decode())
    links = re.findall(r'href="(/data/datab_members/row/\?[^"]+)"', listing)
    assert len(links) == 12
    for link in links[:3]:
        assert admin_client.get(link).status_code == 200


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("/data/datab_items/row/?pk.id=999999", "No row of “datab_items” has id = 999999"),
        ("/data/datab_items/row/?pk.id=abc", "“abc” is not a valid id for “datab_items”"),
        ("/data/datab_items/row/", "Name the row of “datab_items” by its primary key: pk.id"),
        ("/data/datab_members/row/?pk.org_id=1", "pk.org_id, pk.user_uuid"),
        ("/data/datab_members/row/?pk.org_id=1&pk.user_uuid=nope", "Enter a UUID"),
        ("/data/datab_logs/row/?pk=1", "has no primary key"),
        ("/data/datab_tokens/row/?pk.token=tok_secret_1", "secret-looking key"),
    ],
)
def test_bad_keys_are_a_404_with_a_sentence(tables, admin_client, url, sentence):
    response = admin_client.get(url)
    assert response.status_code == 404
    assert sentence in response.content.decode()


def test_a_slow_child_list_is_a_notice_and_the_row_still_shows(
    big_table, tables, admin_client, monkeypatch
):
    monkeypatch.setattr(rows_module, "CHILD_TIMEOUT_MS", 5)
    # No row of datab_big points at org 1, and org_id has no index: a full scan, cancelled.
    body = body_of(admin_client, "/data/datab_orgs/row/?pk.id=1")
    assert "Acme" in body
    big = re.search(r'aria-label="datab_big rows">(.*?)</section>', body, re.S).group(1)
    assert "was stopped (is org_id indexed?)" in big
    members = re.search(r'aria-label="datab_members rows">(.*?)</section>', body, re.S).group(1)
    assert "/data/datab_members/row/" in members  # the other child list is intact
