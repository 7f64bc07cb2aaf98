"""The errors middleware: a request value PostgreSQL cannot hold (a NUL) is a 400 with a
sentence before any view runs, as a page or, for htmx, the notice alone."""

from __future__ import annotations

import pytest

from dashboard.jobs.models import JobRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_client):
    admin_client.raise_request_exception = False
    return admin_client


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("/schema/?q=%00", "“q” must be text without NUL characters."),  # was a 503
        ("/schema/tasks%00/", "The address must be text without NUL characters."),  # a 503
        ("/queries/?q=%00", "“q” must be text without NUL characters."),  # a 503
        ("/data/?q=a%00", "“q” must be text without NUL characters."),
        ("/audit/?subject=%00", "“subject” must be text without NUL characters."),
        ("/schema/?a%00b=1", "A parameter name must be text without NUL characters."),
    ],
)
def test_a_nul_anywhere_in_a_request_is_a_400_page(client, htmx_headers, url, sentence):
    full = client.get(url)
    assert full.status_code == 400
    body = full.content.decode()
    assert sentence in body and "<html" in body and "Traceback" not in body
    partial = client.get(url, **htmx_headers)
    assert partial.status_code == 400
    part = partial.content.decode()
    assert sentence in part and "<html" not in part


def test_a_nul_in_a_form_field_is_a_400(client):
    response = client.post("/queries/snapshots/", {"note": "x\x00y"})
    assert response.status_code == 400
    assert "“note” must be text without NUL characters." in response.content.decode()
    assert not JobRun.objects.exists()  # refused before the view enqueued a snapshot
