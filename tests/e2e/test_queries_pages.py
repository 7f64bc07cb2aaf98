"""The query pages in a real browser: no CSP violation or script error, htmx parts work.

Kept with the other browser tests (tests/e2e runs last: Playwright's event loop must not start
before the tests that run procrastinate's worker). Set SCREENSHOT_DIR to also save a
full-page screenshot of each page.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psycopg
import pytest

from tests.dashboard.queries.conftest import queryid_of, scratch_table
from tests.e2e.conftest import log_in, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGED = "SELECT * FROM qt_browser WHERE grp = $1 ORDER BY id DESC LIMIT $2"


def _shoot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def browser_workload():
    with scratch_table(
        "qt_browser",
        "CREATE TABLE qt_browser (id serial PRIMARY KEY, grp int, label text)",
        "INSERT INTO qt_browser (grp, label) "
        "SELECT g % 40, 'row ' || g FROM generate_series(1, 4000) g",
        "ANALYZE qt_browser",
    ):
        with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
            for group in range(3):
                conn.execute(
                    "SELECT * FROM qt_browser WHERE grp = %s ORDER BY id DESC LIMIT %s", (group, 5)
                )
        yield


def test_query_pages_render_and_explain_in_the_browser(page, operator_factory, browser_workload):
    engineer = operator_factory("qt-eng", "engineer")
    log_in(page, engineer)
    problems = watch_console(page)

    page.goto("/queries/?q=qt_browser")
    page.locator("#statements-table").wait_for()
    _shoot(page, "queries-statements")

    page.goto(f"/queries/{queryid_of(PAGED)}/")
    page.click("button[value=plain]")  # no values: the form error shows where the plan goes
    page.locator("#plan .notice.error").wait_for()
    assert "Fill a value for $1, $2" in page.locator("#plan").inner_text()
    page.fill("#param-1", "7")
    page.fill("#param-2", "5")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("button[value=analyze]")
    page.locator("#plan .q-plan-tree").wait_for()
    assert [url.split("/queries/", 1)[1] for url in posts] == [
        f"{queryid_of(PAGED)}/explain/analyze/"
    ]
    assert page.locator("#plan tr.q-costliest").count() == 1
    assert (
        "ran as the read-only role, in a read-only transaction"
        in page.locator("#plan").inner_text()
    )
    _shoot(page, "queries-statement")

    page.goto("/queries/activity/")
    page.locator("#activity").wait_for()
    page.click("text=Pause")
    page.locator("text=Resume auto-refresh").wait_for()
    assert "refresh=off" in page.url

    for path in ("/queries/indexes/", "/queries/health/", "/queries/snapshots/"):
        page.goto(path)
        page.locator("h1").wait_for()
        _shoot(page, "queries-" + path.strip("/").split("/")[-1])
    assert problems == []


@pytest.fixture
def many_statements():
    """Forty statements of their own (each selects one more column, so pg_stat_statements keeps
    each apart): more rows than the list's scroll box shows at once."""
    with scratch_table(
        "qt_sticky",
        "CREATE TABLE qt_sticky (id int PRIMARY KEY)",
        "INSERT INTO qt_sticky SELECT generate_series(1, 3)",
    ):
        with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
            for width in range(1, 41):
                conn.execute(f"SELECT {', '.join(['id'] * width)} FROM qt_sticky")
        yield


def test_the_statements_list_keeps_its_header_in_view_when_scrolled(
    page, operator_factory, many_statements
):
    """The statements scroll inside a box: scrolled down, the header row is still at the top of
    the box, and it is what is drawn there (not hidden under the rows)."""
    log_in(page, operator_factory("qt-sticky", "viewer"))
    page.goto("/queries/?q=qt_sticky")
    box = page.locator("#results .scroll-box")
    box.wait_for()
    assert page.locator("#statements-table tbody tr").count() >= 40
    geometry = box.evaluate(
        """box => {
            const before = box.querySelector('thead th').getBoundingClientRect().top;
            box.scrollTop = 400;
            const frame = box.getBoundingClientRect();
            const header = box.querySelector('thead th:nth-child(2)').getBoundingClientRect();
            const drawn = document.elementFromPoint(
                header.left + header.width / 2, header.top + header.height / 2);
            return {
                scrolled: box.scrollTop, tall: box.scrollHeight > box.clientHeight + 400,
                before: before - frame.top, headerTop: header.top - frame.top,
                drawn: drawn && drawn.closest('thead') !== null,
                firstRowAbove: box.querySelector('tbody tr').getBoundingClientRect().bottom
                    < frame.top,
            };
        }"""
    )
    assert geometry["tall"] and geometry["scrolled"] == 400, geometry
    assert geometry["firstRowAbove"], geometry  # the rows did scroll under it
    assert abs(geometry["headerTop"] - geometry["before"]) <= 2, geometry
    assert abs(geometry["headerTop"]) <= 2, geometry  # the header stayed on top of the box
    assert geometry["drawn"], geometry  # and is the thing seen there
    _shoot(page, "queries-statements-scrolled")


BOX_GEOMETRY = """box => {
    const frame = box.getBoundingClientRect();
    return {
        top: frame.top, bottom: frame.bottom, height: frame.height,
        window: window.innerHeight, scrollY: window.scrollY,
        taller: box.scrollHeight > box.clientHeight, wider: box.scrollWidth > box.clientWidth,
    };
}"""


def test_the_statements_box_ends_inside_the_window_so_its_scrollbar_is_in_view(
    page, operator_factory, many_statements
):
    """With more statements than fit, the list's scroll box ends inside the window at the top of
    the page (an admin's filters, with the Reset button, are the tallest), so its sideways
    scrollbar is there without scrolling the page; on a phone, where the filters fill the first
    screen, the box is no taller than the window, so once scrolled to, all of it is in view."""
    log_in(page, operator_factory("qt-fits", "admin"))
    page.goto("/queries/?q=qt_sticky")
    box = page.locator("#results .scroll-box")
    box.wait_for()
    wide = box.evaluate(BOX_GEOMETRY)
    assert wide["taller"] and wide["scrollY"] == 0, wide  # rows scroll inside the box
    assert 0 < wide["top"] < wide["bottom"] <= wide["window"], wide
    _shoot(page, "queries-statements-fits")

    page.set_viewport_size({"width": 390, "height": 844})
    box.evaluate("box => window.scrollBy(0, box.getBoundingClientRect().top)")  # box at the top
    narrow = box.evaluate(BOX_GEOMETRY)
    assert narrow["taller"] and narrow["wider"], narrow  # scrolls both ways inside the box
    assert 0 <= narrow["top"] < narrow["bottom"] <= narrow["window"], narrow


@pytest.fixture
def many_sessions():
    """Thirty idle sessions of their own: more rows than the activity box shows at once."""
    with contextlib.ExitStack() as stack:
        for number in range(30):
            conn = stack.enter_context(
                psycopg.connect(
                    os.environ["APP_DIRECT_URL"], autocommit=True, application_name="qt_many"
                )
            )
            conn.execute(f"SELECT {number} AS qt_many_sessions")
        yield


def test_the_activity_box_ends_inside_the_window_so_its_scrollbar_is_in_view(
    page, operator_factory, many_sessions
):
    log_in(page, operator_factory("qt-sessions", "admin"))
    page.goto("/queries/activity/?idle=1&refresh=off")
    box = page.locator("#activity .scroll-box")
    box.wait_for()
    assert page.locator("#sessions tbody tr").count() >= 30
    geometry = box.evaluate(BOX_GEOMETRY)
    assert geometry["taller"] and geometry["scrollY"] == 0, geometry
    assert 0 < geometry["top"] < geometry["bottom"] <= geometry["window"], geometry
    _shoot(page, "queries-activity-fits")
