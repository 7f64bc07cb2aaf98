"""The checklist on the Overview (admins only) and the login page's word about cookies."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_admins_get_the_checklist_as_a_line_of_the_overview_and_a_page(admin_client, settings):
    settings.SECURE_COOKIES = False
    overview = admin_client.get("/").content.decode()
    assert 'id="check-setup" hx-get="/overview/setup/" hx-trigger="load"' in overview
    line = admin_client.get("/overview/setup/", HTTP_HX_REQUEST="true").content.decode()
    assert '<a class="check-action" href="/setup-checks/">Open the setup checks</a>' in line
    part = admin_client.get("/setup-checks/", HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    body = part.content.decode()
    assert body.lstrip().startswith('<section class="card setup-checks" id="setup-checks"')
    assert "pg_stat_statements_reset is granted" in body and "<html" not in body
    page = admin_client.get("/setup-checks/").content.decode()
    assert "<html" in page and '<span aria-current="page">Setup checks</span>' in page
    assert "pg_stat_statements_reset is granted" in page


def test_the_checklist_shows_a_problem_with_its_fix(admin_client, settings):
    settings.SECURE_COOKIES = True  # and the test client speaks plain http
    body = admin_client.get("/setup-checks/").content.decode()
    assert "this page came over plain http" in body
    assert "Fix: <code>serve the console over HTTPS, or set SECURE_COOKIES=false" in body
    assert '<span class="badge bad">bad</span> <strong>cookies and http</strong>' in body


def test_others_do_not_see_it(viewer_client, engineer_client):
    assert 'id="check-setup"' not in viewer_client.get("/").content.decode()
    assert viewer_client.get("/setup-checks/").status_code == 403
    assert engineer_client.get("/setup-checks/").status_code == 403


def test_the_login_page_says_when_cookies_cannot_work_over_http(settings):
    settings.SECURE_COOKIES = True
    over_http = Client().get("/login/").content.decode()
    assert 'id="cookie-problem"' in over_http
    assert "SECURE_COOKIES=true but this page came over plain http" in over_http
    assert 'id="cookie-problem"' not in Client().get("/login/", secure=True).content.decode()
    settings.SECURE_COOKIES = False
    assert 'id="cookie-problem"' not in Client().get("/login/").content.decode()
