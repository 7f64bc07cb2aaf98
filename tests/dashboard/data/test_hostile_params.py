"""Hostile query parameters on Data pages: a notice or a 400 with a sentence, never a 5xx.

Each case is one that a fuzz of the console answered with a 500 or a 503 before request
values were parsed in one place (dashboard.params).
"""

from __future__ import annotations

import pytest
from django.core import signing

from dashboard.audit.models import AuditEvent
from dashboard.data.cursor import SALT

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "\u00b2"  # "²".isdigit() is True, int("²") raises


@pytest.fixture
def client(tables, admin_client):
    admin_client.raise_request_exception = False  # a 500 is an answer to check, not a crash
    return admin_client


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        (f"/data/datab_items/?page={SUPERSCRIPT_TWO}", "is not a page number"),
        (f"/data/datab_logs/?page={SUPERSCRIPT_TWO}", "is not a page number"),
        (f"/data/datab_items/count/?page={SUPERSCRIPT_TWO}", "is not a page number"),
        (f"/data/datab_items/?n={SUPERSCRIPT_TWO}", "Rows per page must be one of"),
        (f"/data/datab_items/count/?n={SUPERSCRIPT_TWO}", "Rows per page must be one of"),
        ("/data/datab_items/?page=\u0663", "is not a page number"),  # Arabic-Indic 3: int() = 3
    ],
)
def test_unicode_digits_are_a_notice_and_the_first_page(client, url, sentence):
    response = client.get(url)
    assert response.status_code == 200
    assert sentence in body_of(response)


def test_unicode_digits_in_an_export_leave_the_default_size(client):
    response = client.get(f"/data/datab_items/export.csv?n={SUPERSCRIPT_TWO}")
    assert response.status_code == 200
    assert body_of(response).startswith("id,")


def test_the_last_representable_day_as_an_upper_bound_is_a_field_error(client):
    # "to 9999-12-31" meant "before 10000-01-01": datetime + 1 day raised OverflowError.
    response = client.get("/data/datab_items/?f.lte.created_at=9999-12-31")
    assert response.status_code == 200
    assert "Enter a date from 0001-01-02 to 9999-12-30." in body_of(response)
    assert client.get("/data/datab_items/?f.lte.created_at=9999-12-30").status_code == 200


def test_an_export_with_a_filter_it_cannot_use_is_refused_not_widened(client):
    response = client.get("/data/datab_items/export.csv?f.lte.created_at=9999-12-31")
    assert response.status_code == 400
    body = body_of(response)
    assert "Nothing was exported" in body and "f.lte.created_at" in body
    assert not AuditEvent.objects.filter(action="data.export").exists()


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("f.eq.score", "-1e999999999"),  # numeric(10, 2): Decimal is finite, numeric overflows
        ("f.gte.ratio", "1e999"),  # double precision: float() would be inf
    ],
)
def test_numbers_beyond_the_column_type_are_field_errors(client, param, value):
    response = client.get(f"/data/datab_items/?{param}={value}")
    assert response.status_code == 200
    page = response.context["page"]
    assert param in page.query.filters.errors
    assert not page.error  # the list itself ran: the database never saw the value


def _signed(payload: dict) -> str:
    return signing.dumps(payload, salt=SALT, compress=True)


@pytest.mark.parametrize(
    "key",
    [
        [{"n": "abc"}],  # Decimal("abc") raises InvalidOperation, not ValueError
        ["abc"],  # text for a bigint key
        [True],  # a bool is an int to Python
        [2**70],  # beyond bigint
        [{"iv": [10**12, 0, 0]}],  # timedelta overflow
        [{"ts": "2025-01-01"}],  # a timestamp for a bigint key
    ],
)
def test_a_signed_cursor_with_a_wrong_type_gives_the_first_page(client, key):
    token = _signed({"t": "datab_items", "o": "id", "d": "next", "k": key})
    response = client.get(f"/data/datab_items/?n=25&cursor={token}")
    assert response.status_code == 200
    assert "showing the first page" in body_of(response)
    assert "?pk.id=1&" in response.context["page"].rows[0].url


def test_a_nul_in_a_filter_is_a_400_with_a_sentence(client, htmx_headers):
    full = client.get("/data/datab_items/?f.eq.uid=%00")
    assert full.status_code == 400
    assert "“f.eq.uid” must be text without NUL characters." in body_of(full)
    partial = client.get("/data/datab_items/?q=a%00", **htmx_headers)
    assert partial.status_code == 400
    assert "<html" not in body_of(partial) and "without NUL" in body_of(partial)
