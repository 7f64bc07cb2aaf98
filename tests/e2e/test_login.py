"""Login in a real browser; anonymous visitors land on the login page."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_anonymous_visit_redirects_to_login_and_login_lands_on_overview(page, operator_factory):
    operator_factory("lena", "viewer", password="a long pass phrase 7")
    page.goto("/")
    assert "/login/" in page.url
    page.fill("#id_username", "lena")
    page.fill("#id_password", "a long pass phrase 7")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    assert page.locator("h1").inner_text() == "Overview"
    assert "lena" in page.locator(".operator").inner_text()


def test_wrong_password_shows_error_and_stays_on_login(page, operator_factory):
    operator_factory("mo", "viewer", password="a long pass phrase 7")
    page.goto("/login/")
    page.fill("#id_username", "mo")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert "/login/" in page.url


def test_health_check_job_progress_is_polled_by_htmx(logged_in_page):
    """The button enqueues a job; the progress partial appears (htmx + CSRF header work)."""
    page = logged_in_page
    page.goto("/")
    page.click("#background-jobs > summary")  # folded away below the checklist
    page.click("text=Run a health check in the background")
    status = page.locator("#job-slot [data-status]")
    status.wait_for()
    assert status.get_attribute("data-status") in {"queued", "running", "succeeded"}
