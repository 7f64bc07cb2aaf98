"""Table names and end-user ids the console does not choose: every page that links to them,
and every page they link to, works (`/`, `%`, `?`, `#`, spaces, quotes, line breaks, Unicode)."""

from __future__ import annotations

import html
import re

import psycopg
import pytest
from django.urls import reverse

from dashboard.schema import reflection
from tests.pgplugin import running_layout

pytestmark = pytest.mark.django_db

NAMES = [
    "cv/slash",
    "cv 50% ?#frag",
    "cv \"quoted\" 'single'",
    "cv_ünï日本",
    "cv_line\nbreak",
    "cv%2Fencoded",
    "cv\\back",
]


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def owner(sql: str) -> None:
    with psycopg.connect(running_layout().environment()["APP_DIRECT_URL"]) as conn:
        conn.execute(sql)


@pytest.fixture
def odd_tables(settings):
    settings.REFLECTION_CHECK_SECONDS = 0
    for name in NAMES:
        owner(f"DROP TABLE IF EXISTS {quoted(name)}")
        owner(f"CREATE TABLE {quoted(name)} (id integer PRIMARY KEY, note text)")
        owner(f"INSERT INTO {quoted(name)} VALUES (1, 'row of {name.replace(chr(39), '')}')")
    reflection.invalidate()
    yield
    for name in NAMES:
        owner(f"DROP TABLE IF EXISTS {quoted(name)}")
    reflection.invalidate()


def links(body: str, prefix: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body) if h.startswith(prefix)]


def test_the_data_picker_and_every_data_page_of_odd_names(odd_tables, admin_client):
    admin_client.raise_request_exception = False
    picker = admin_client.get("/data/")
    assert picker.status_code == 200  # NoReverseMatch for "cv/slash" made it a 500 for everyone
    for name in NAMES:
        url = reverse("data:list", args=[name])
        assert url in links(picker.content.decode(), "/data/"), name
        listing = admin_client.get(url)
        assert listing.status_code == 200, name
        assert listing.context["page"].query.table.name == name
        for view in ("data:count", "data:export"):
            assert admin_client.get(reverse(view, args=[name])).status_code == 200, (view, name)
        row_url = listing.context["page"].rows[0].url
        row = admin_client.get(row_url)
        assert row.status_code == 200 and row.context["row"].table == name, name


def test_a_slash_stays_one_segment_in_data_urls(odd_tables):
    url = reverse("data:count", args=["cv/slash"])
    assert url == "/data/cv%252Fslash/count/"  # decoded once by the server: cv%2Fslash
    assert reverse("data:list", args=["cv%2Fencoded"]) == "/data/cv%25252Fencoded/"


def test_schema_pages_of_odd_names(odd_tables, admin_client):
    admin_client.raise_request_exception = False
    listing = admin_client.get("/schema/")
    assert listing.status_code == 200  # a line break made reverse("schema:table") fail
    for name in NAMES:
        url = reverse("schema:table", kwargs={"name": name})
        assert url in links(listing.content.decode(), "/schema/"), name
        page = admin_client.get(url)
        assert page.status_code == 200, name
        assert page.context["detail"].name == name
        assert admin_client.get(reverse("schema:table_erd", args=[name])).status_code == 200


def test_user_pages_of_odd_ids_reverse(odd_tables):
    for subject in ("acc/alice", "acc\r\nalice", "acc 50%?#", "ünï"):
        url = reverse("users:detail", args=[subject])
        assert url.startswith("/users/u/"), subject
