"""The support workflow with the keyboard only: find a user, give a reason, open their tasks,
filter, sort, page, remove a filter, export. Only Tab, Shift+Tab, Enter, Escape and typing:
no mouse click and no element.click(). After every htmx swap the focus stays on the control
that asked for it, or moves to the line that says where the list now is; never to the top.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import application_user, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBJECT = "e2e_keyboard_subject"
EMAIL = "keyboard.subject@example.com"
TASKS = 30


@pytest.fixture
def end_user(settings) -> Iterator[str]:
    with application_user(
        settings,
        SUBJECT,
        EMAIL,
        "Kim",
        "INSERT INTO tasks (user_id, title) SELECT %(subject)s, "
        f"'Keyboard task ' || lpad(g::text, 2, '0') FROM generate_series(1, {TASKS}) AS g",
    ) as subject:
        yield subject


def focused(page, selector: str) -> bool:
    return page.evaluate(
        "selector => !!document.activeElement && document.activeElement.matches(selector)",
        selector,
    )


def tab_to(page, selector: str, *, back: bool = False, limit: int = 80) -> int:
    """Press Tab (or Shift+Tab) until the focus is on `selector`; return how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page, selector):
            return presses
    raise AssertionError(f"{selector} was not reached in {limit} presses of Tab")


def focus_settles_on(page, selector: str) -> None:
    """Wait for the htmx swap to end with the focus on `selector` (never on the body)."""
    page.wait_for_function(
        "selector => !!document.activeElement && document.activeElement.matches(selector)"
        " && !document.querySelector('.htmx-request')",
        arg=selector,
    )


def test_the_support_workflow_with_the_keyboard_only(page, operator_factory, end_user):
    support = operator_factory("kai-support", "support")
    log_in(page, support)

    # Find the user: the search box has the focus; typing and Enter search.
    page.goto("/users/")
    assert focused(page, "input[name=q]")
    page.keyboard.type(EMAIL)
    page.keyboard.press("Enter")

    # The reason for browsing (the focus is in its box), then the user's own gate.
    page.wait_for_url("**/users/reason/**")
    assert focused(page, "input[name=reason]")
    page.keyboard.type("SUP-77 keyboard only")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/users/u/{end_user}/")
    assert focused(page, "input[name=reason]")  # the last reason is offered: Enter takes it
    page.keyboard.press("Enter")
    page.locator("#table-tasks").wait_for()

    # The skip link is the first stop and jumps over the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert focused(page, "main")

    # Open the user's tasks in the Data browser.
    tab_to(page, "#table-tasks a.button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/data/tasks/\?scope_user={end_user}"))

    # Few stops before the filters: skip link, breadcrumb, the way back to the user, the search
    # bar and its menus, Apply, Export, then Filters.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip to content
    presses = tab_to(page, "details.filter-panel > summary")
    assert presses <= 10, presses

    # Open the filters with Enter and filter the titles by typing; Enter applies.
    page.keyboard.press("Enter")
    expect(page.locator("details.filter-panel")).to_have_attribute("open", "")
    tab_to(page, 'input[name="f.contains.title"]')
    page.keyboard.type("Keyboard task")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"f\.contains\.title=Keyboard"))
    focus_settles_on(page, 'input[name="f.contains.title"]')

    # Sort by title: the focus stays on the header's link.
    tab_to(page, 'a[data-focus-key="sort title"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"o=title"))
    focus_settles_on(page, 'a[data-focus-key="sort title"]')
    expect(page.locator("th[aria-sort=ascending]")).to_have_attribute("data-column", "title")

    # 25 rows a page: the link becomes the current size, so the focus goes to the line that
    # says which rows are shown.
    tab_to(page, '.sizes a[href*="n=25"]', back=True)  # above the table
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"n=25"))
    focus_settles_on(page, ".list-bar .count")
    expect(page.locator(".list-bar .count")).to_contain_text(f"1\u201325 of {TASKS}")

    # The next page: rows 26 to 30; there is no page after it, so the focus is on where it is.
    tab_to(page, 'a[data-focus-key="next"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"cursor="))
    focus_settles_on(page, ".list-bar .count")
    expect(page.locator(".list-bar .count")).to_contain_text(f"26\u2013{TASKS}")
    expect(page.locator("#listing tbody tr")).to_have_count(TASKS - 25)

    # The Columns and Search-in menus open with Enter and close with Escape.
    for menu in ("details.columns-menu", "details.search-in"):
        tab_to(page, f"{menu} > summary", back=True)
        page.keyboard.press("Enter")
        expect(page.locator(menu)).to_have_attribute("open", "")
        page.keyboard.press("Tab")  # into the menu
        page.keyboard.press("Escape")
        expect(page.locator(menu)).not_to_have_attribute("open", "")
        assert focused(page, f"{menu} > summary")

    # Remove the title filter by its chip: the focus goes to the list's position line.
    tab_to(page, ".chips a[aria-label^='Remove title']")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "f.contains.title" not in url)
    focus_settles_on(page, ".list-bar .count")
    expect(page.locator(".chips")).to_have_count(0)

    # Export what is listed.
    tab_to(page, "a[download]", back=True)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "tasks.csv"
