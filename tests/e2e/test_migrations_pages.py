"""The Migrations pages in a real browser: history, and a revision's SQL made by a job."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import luminance, worker_in_background

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_history_then_revision_sql_arrives_by_polling(logged_in_page):
    page = logged_in_page
    page.goto("/migrations/")
    assert page.locator("h1").inner_text() == "Migrations"
    # This project's own history: the database is at the head, so nothing is pending.
    history = page.locator("text=Conversations and messages").first
    history.wait_for()
    page.click("a:has-text('0002')")
    page.wait_for_url("**/migrations/revisions/0002/")

    # The SQL is made by a background job; the page polls until it is there.
    assert page.locator("#revision-sql .badge.running").is_visible()
    worker = worker_in_background()
    upgrade = page.locator("#upgrade-sql")
    upgrade.wait_for(timeout=30_000)
    worker.join(timeout=30)
    assert "CREATE TABLE conversations" in upgrade.inner_text()
    assert "DROP TABLE" in page.locator("#downgrade-sql").inner_text()
    # Polling stopped once the SQL arrived.
    assert page.locator("#revision-sql[hx-trigger]").count() == 0


def test_copy_buttons_put_the_sql_on_the_clipboard(logged_in_page):
    page = logged_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page.base_url)
    page.goto("/migrations/revisions/0002/")
    worker = worker_in_background()
    page.locator("#upgrade-sql").wait_for(timeout=30_000)
    worker.join(timeout=30)
    upgrade = page.locator("#upgrade-sql-text").inner_text().strip()
    page.click("button[data-copy=upgrade-sql-text]")
    page.locator("button[data-copy=upgrade-sql-text].copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == upgrade
    assert "CREATE TABLE conversations" in upgrade
    # Said to screen readers too, in a live region.
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    # One statement of the review: its SQL alone.
    statement = page.locator("li.stmt:not(.quiet)").first
    code = statement.locator("pre.stmt-code").inner_text().strip()
    statement.locator("button.copy").click()
    statement.locator("button.copy.copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == code
    assert code.startswith("CREATE TABLE") and code.endswith(";")


def test_the_migration_source_follows_the_dark_scheme(logged_in_page):
    """Seen: the Pygments-highlighted source stayed light in the dark scheme."""
    page = logged_in_page
    page.emulate_media(color_scheme="light")
    page.goto("/migrations/revisions/0001/")
    assert luminance(page, "div.source", "background-color") > 0.9
    page.emulate_media(color_scheme="dark")
    assert luminance(page, "div.source", "background-color") < 0.05
    assert luminance(page, "div.source .k", "color") > 0.3  # a keyword, readable on it
    assert luminance(page, "div.source td.linenos", "background-color") < 0.05
