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
