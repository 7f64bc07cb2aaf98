"""Hostile query parameters on the audit pages: a 400 with a sentence, never a 5xx."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_client):
    admin_client.raise_request_exception = False
    return admin_client


@pytest.mark.parametrize("name", ["after", "before"])
@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1", "9" * 40])
def test_a_page_link_that_is_not_an_event_number_is_a_400(client, htmx_headers, name, value):
    full = client.get("/audit/", {name: value})
    assert full.status_code == 400
    body = full.content.decode()
    assert f"“{name}” must be" in body and "<html" in body
    partial = client.get("/audit/", {name: value}, **htmx_headers)
    assert partial.status_code == 400 and "<html" not in partial.content.decode()


def test_a_nul_in_an_export_filter_is_a_400_and_writes_no_event(client):
    # The filter went into the audit event's JSON detail: jsonb refused \u0000 with a 500.
    response = client.get("/audit/export.csv?operator=a%00b")
    assert response.status_code == 400
    assert "“operator” must be text without NUL characters." in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.export").exists()
    assert client.get("/audit/export.csv?operator=ab").status_code == 200  # still usable


@pytest.mark.parametrize("value", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_dates_at_the_edge_of_the_calendar_are_a_form_error(client, value):
    response = client.get("/audit/", {"since": value})
    assert response.status_code == 200
    assert "Enter a date from 0001-01-02 to 9999-12-30." in response.content.decode()
