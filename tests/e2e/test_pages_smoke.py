"""Every section's page in a real browser: renders, no stack trace, no console errors.

Console errors include Content Security Policy violations, so an inline script or style that
the policy blocks (and that would silently break a page) fails here.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/schema/",
    "/schema/tasks/",
    "/schema/diagram",
    "/data/",
    "/data/tasks/",
    "/data/tasks/?o=-created_at&f.eq.completed=true",
    "/users/",
    "/users/?q=e2e",
    "/users/reason/",
    "/users/ownership/",
    "/users/isolation/",
    "/migrations/",
    "/migrations/revisions/0001/",
    "/migrations/trials/",
    "/branches/",
    "/branches/new/",
    "/queries/",
    "/queries/indexes/",
    "/queries/activity/",
    "/queries/health/",
    "/queries/snapshots/",
    "/audit/",
]


def test_every_section_page_renders_cleanly(logged_in_page):
    page = logged_in_page
    # Rows of `tasks` are end-users' data: the reason form comes first, once.
    page.goto("/data/tasks/")
    page.wait_for_url("**/users/reason/**")
    page.fill("input[name=reason]", "SMOKE-1 every page renders")
    page.click("text=Show the data")
    page.wait_for_url("**/data/tasks/")
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"{page.url}: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        page.wait_for_load_state("networkidle")
        body = page.content()
        assert "Traceback" not in body, path
        assert page.locator("nav.sections a.active").count() == 1, path
    assert problems == []
