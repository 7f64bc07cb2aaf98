"""Browser tests: Playwright for Python driving the system Chromium against a live server."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client

from dashboard.jobs.worker import run_until_idle
from tests.unavailable import unavailable

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (creating users, sessions) are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    """Return the system Chromium, or stop the test saying what to install."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    unavailable("Chromium is not installed: apt-get install -y chromium (or set CHROMIUM).")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser page (not logged in); `page.base_url` is the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    # A ceiling, not a measure: on a loaded 2-core machine a page can take seconds.
    context.set_default_timeout(30_000)
    new_page = context.new_page()
    new_page.base_url = live_server.url
    yield new_page
    context.close()


def log_in(page, user) -> None:
    """Give the browser page a logged-in session for `user` (without typing)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": page.base_url}])


@pytest.fixture
def logged_in_page(page, admin_user):
    """A browser page logged in as an admin operator."""
    log_in(page, admin_user)
    return page


def worker_in_background() -> threading.Thread:
    """Run the queued jobs with the real worker in a thread, while the browser keeps polling.

    A thread, because Playwright's event loop runs in this one and the worker needs its own.
    """

    def work() -> None:
        try:
            run_until_idle()
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="e2e-worker", daemon=True)
    thread.start()
    return thread


@contextmanager
def application_user(settings, subject: str, email: str, name: str, *statements: str):
    """An end-user of the application (a `users` row, detected as the users table, reasons
    required) with the rows `statements` make: each is run as the owner with the subject as its
    parameters (`%(subject)s`). Deleted afterwards, which cascades to their rows."""
    import psycopg

    from dashboard.schema import reflection as refl
    from dashboard.users.ownership import forget_ownership_map
    from tests.dashboard.users.conftest import owner_url

    settings.USERS_TABLE = ""  # detect: the application's `users`
    settings.USER_LINKS = {}
    settings.SUPPORT_REASON_REQUIRED = True
    refl.invalidate()
    forget_ownership_map()
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (subject,))
        conn.execute(
            "INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (subject, email, name)
        )
        for statement in statements:
            conn.execute(statement, {"subject": subject})
    try:
        yield subject
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            conn.execute("DELETE FROM users WHERE id = %s", (subject,))
        forget_ownership_map()


def shot(page, name: str) -> None:
    """Save a full-page screenshot as <name>.png when SCHEMADESK_SCREENSHOTS names a folder."""
    folder = os.environ.get("SCHEMADESK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def watch_console(page) -> list[str]:
    """Collect CSP violations and script errors (answers with an error status are expected)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def luminance(page, selector: str, css_property: str) -> float:
    """Return the relative luminance (0 black, 1 white) of a colour property of the first
    element matching `selector`, as the browser computed it."""
    colour = page.locator(selector).first.evaluate(
        "(element, name) => getComputedStyle(element).getPropertyValue(name)", css_property
    )
    channels = colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]
    red, green, blue = (float(part) / 255 for part in channels)

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
