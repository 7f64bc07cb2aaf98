"""The navigation on a 390 px phone (templates/base.html, static/css/app.css): it takes no more
than a fifth of the first screen, on pages of several sections, and the current section is in
view in its sideways-scrolling line."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LARGEST_SHARE = 0.20  # of the screen's height


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("/", "Overview"),
        ("/data/", "Data"),
        ("/queries/", "Queries"),
        ("/audit/", "Audit"),  # the last section: the end of the line
    ],
)
def test_the_navigation_takes_a_small_part_of_a_phone_screen(page, operator_factory, path, section):
    page.set_viewport_size(PHONE)
    log_in(page, operator_factory("nav-admin", "admin"))  # every section: the longest line
    page.goto(path)
    page.locator("main h1").first.wait_for()
    shot(page, f"phone-navigation {section}")
    measured = page.evaluate(
        """() => {
            const bar = document.querySelector('header.topbar').getBoundingClientRect();
            const nav = document.querySelector('nav.sections');
            const line = nav.getBoundingClientRect();
            const current = nav.querySelector('a[aria-current="page"]');
            const here = current.getBoundingClientRect();
            return {
                bar: bar.height, top: bar.top, screen: window.innerHeight,
                main: document.querySelector('main h1').getBoundingClientRect().top,
                links: nav.querySelectorAll('a').length,
                rows: new Set([...nav.querySelectorAll('a')].map(
                    a => Math.round(a.getBoundingClientRect().top))).size,
                current: current.textContent,
                currentInView: here.left >= line.left - 1 && here.right <= line.right + 1,
                pageWidth: document.documentElement.scrollWidth,
            };
        }"""
    )
    assert measured["top"] == 0 and measured["links"] >= 8, measured
    assert measured["bar"] <= LARGEST_SHARE * measured["screen"], measured
    # The page's heading starts within that share too: nothing else sits above it.
    assert measured["main"] <= LARGEST_SHARE * measured["screen"] + 40, measured
    assert measured["rows"] == 1, measured  # one line of sections, scrolled sideways
    assert measured["current"] == section and measured["currentInView"], measured
    assert measured["pageWidth"] <= PHONE["width"], measured
