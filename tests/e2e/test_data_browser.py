"""Browse a real table in Chromium: sort, filter, page forward and back, fix a bad value."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from dashboard.schema import reflection as refl
from tests.dashboard.data.conftest import made_tables, owner_execute
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PREFIX = "datae_"  # the same shapes as tests/dashboard/data, under names of this module
ITEMS = f"{PREFIX}items"


@pytest.fixture(scope="module")
def browser_tables() -> Iterator[None]:
    with made_tables(PREFIX):
        yield


@pytest.fixture
def data_page(browser_tables, logged_in_page, settings):
    settings.REFLECTION_CHECK_SECONDS = 0
    refl.invalidate()
    return logged_in_page


def shown_ids(page) -> list[str]:
    """Return the ids in the first column of the list, as shown."""
    return page.locator("#listing table.data-grid tbody tr td:first-child").all_inner_texts()


def first_cell(page):
    return page.locator("#listing table.data-grid tbody tr td:first-child").first


def ids(sql: str) -> list[str]:
    return [str(value) for (value,) in owner_execute(sql)]


def test_sort_filter_and_page_through_a_table(data_page):
    page = data_page
    page.goto(f"/data/{ITEMS}/?n=25")
    assert shown_ids(page) == ids(f"SELECT id FROM {ITEMS} ORDER BY id LIMIT 25")

    # Sort by score, descending (click twice), swapped in place by htmx, URL updated.
    page.get_by_role("link", name=re.compile(r"^score")).click()
    page.wait_for_url(re.compile(r"o=score"))
    page.get_by_role("link", name=re.compile(r"^score")).click()
    page.wait_for_url(re.compile(r"o=-score"))
    by_score = ids(f"SELECT id FROM {ITEMS} ORDER BY score DESC NULLS LAST, id DESC LIMIT 25")
    expect(first_cell(page)).to_have_text(by_score[0])
    assert shown_ids(page) == by_score

    # Filter: status is open and score from 10, with the filter form.
    page.locator(".filter-panel > summary").click()
    page.locator('select[name="f.eq.status"]').select_option("open")
    page.locator('input[name="f.gte.score"]').fill("10")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"f.eq.status=open"))
    where = "status = 'open' AND score >= 10"
    expected = ids(f"SELECT id FROM {ITEMS} WHERE {where} ORDER BY score DESC NULLS LAST, id DESC")
    assert len(expected) > 25
    expect(page.locator(".chips li")).to_have_count(2)
    assert shown_ids(page) == expected[:25]
    assert page.locator(".chips li").count() == 2

    # Next page: the filter and the order survive; Previous comes back.
    page.get_by_role("link", name=re.compile(r"^Next")).click()
    page.wait_for_url(re.compile(r"cursor="))
    expect(first_cell(page)).to_have_text(expected[25])
    assert shown_ids(page) == expected[25:50]
    assert "f.eq.status=open" in page.url and "o=-score" in page.url
    page.get_by_role("link", name=re.compile(r"Previous$")).click()
    expect(first_cell(page)).to_have_text(expected[0])
    assert shown_ids(page) == expected[:25]

    # A malformed value: the error shows next to its field, and no row is shown until it is
    # fixed (never the rows of the other filters alone, silently).
    expect(page.locator(".filter-panel")).to_have_attribute("open", "")
    page.locator('input[name="f.lte.score"]').fill("lots")
    page.get_by_role("button", name="Apply filters").click()
    error = page.locator('.fcol.invalid[data-column="score"] .field-error')
    error.wait_for()
    assert error.inner_text() == "Enter a number, like 3.14."
    assert shown_ids(page) == []
    assert "score to “lots”" in page.locator(".invalid-filters").inner_text()

    # The text filter's mode menu renames its input: title starts with "Item 01".
    page.locator('input[name="f.lte.score"]').fill("")
    page.locator('select.text-mode[data-column="title"]').select_option("prefix")
    page.locator('input.text-value[name="f.prefix.title"]').fill("item 01")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"f.prefix.title=item"))
    prefixed = ids(
        f"SELECT id FROM {ITEMS} WHERE {where} AND title ILIKE 'item 01%' "
        "ORDER BY score DESC NULLS LAST, id DESC"
    )
    expect(page.locator("#listing tbody tr")).to_have_count(len(prefixed))
    assert shown_ids(page) == prefixed

    # Open a row, then come back with the browser's Back button.
    first = shown_ids(page)[0]
    page.locator("#listing tbody tr td:first-child a").first.click()
    page.wait_for_url(re.compile(rf"/row/\?pk.id={first}&back="))
    assert page.locator("h1").inner_text().endswith(f"id = {first}")
    # The breadcrumb and "Back to the list" lead to this very list: filters, order, page.
    for link in (
        page.locator(".crumbs a.mono"),
        page.get_by_role("link", name="← Back to the list"),
    ):
        back = link.get_attribute("href")
        assert "f.prefix.title=item" in back and "o=-score" in back
    page.go_back()
    page.wait_for_url(re.compile(r"f.prefix.title=item"))
    expect(first_cell(page)).to_have_text(first)


def test_row_count_loads_after_the_page(data_page):
    page = data_page
    page.goto(f"/data/{ITEMS}/?n=25&f.eq.done=true")
    (count,) = owner_execute(f"SELECT count(*) FROM {ITEMS} WHERE done")[0]
    expect(page.locator("#row-count.count-result")).to_have_text(f"{count:,}")
    expect(page.locator(".list-bar .count")).to_contain_text(f"Rows 1\u201325 of {count:,}")


def test_table_picker_narrows_as_you_type(data_page):
    page = data_page
    page.goto("/data/")
    page.get_by_label("Find a table").fill("datae_it")
    expect(page.locator("#tables tbody tr")).to_have_count(1)
    page.get_by_role("link", name=ITEMS).click()
    page.wait_for_url(re.compile(rf"/data/{ITEMS}/$"))
    expect(page.locator("#listing table.data-grid")).to_be_visible()


def test_a_wide_list_keeps_its_header_key_and_scrollbar_in_view(data_page):
    """The rows scroll inside a box: scrolled down and sideways, the header row is still at the
    top of the box and the key column at its left; the box ends inside the window, so its
    sideways scrollbar is there without scrolling the page to the bottom of the rows."""
    page = data_page
    columns = "&".join(f"c={name}" for name in ("id", "title", "body", "meta", "uid", "created_at"))
    page.goto(f"/data/{ITEMS}/?n=200&{columns}")
    box = page.locator("#listing .scroll-box")
    geometry = box.evaluate(
        """box => {
            box.scrollTop = 600; box.scrollLeft = 400;
            const frame = box.getBoundingClientRect();
            const at = (selector) => box.querySelector(selector).getBoundingClientRect();
            const header = at('thead th[data-column="title"]');
            const key = at('tbody tr:nth-child(20) td.key');
            return {
                scrolled: box.scrollTop > 0 && box.scrollLeft > 0,
                headerTop: header.top - frame.top, keyLeft: key.left - frame.left,
                bottom: frame.bottom, window: window.innerHeight,
                wider: box.scrollWidth > box.clientWidth,
            };
        }"""
    )
    assert geometry["scrolled"] and geometry["wider"], geometry
    assert abs(geometry["headerTop"]) <= 2, geometry  # the header stayed on top
    assert abs(geometry["keyLeft"]) <= 2, geometry  # the key column stayed on the left
    assert geometry["bottom"] <= geometry["window"], geometry  # the scrollbar is in the window


def test_a_column_is_resized_with_the_keyboard_and_keeps_its_width(data_page):
    page = data_page
    page.goto(f"/data/{ITEMS}/?n=25")
    header = page.locator('#listing th[data-column="title"]')
    before = header.bounding_box()["width"]
    page.locator('#listing th[data-column="title"] .col-resize').focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wider = header.bounding_box()["width"]
    assert wider >= before + 3 * 24 - 2
    # Sorting swaps the list in: the width was kept for this table.
    page.get_by_role("link", name=re.compile(r"^score")).click()
    page.wait_for_url(re.compile(r"o=score"))
    expect(page.locator("#listing th[aria-sort]")).to_have_attribute("data-column", "score")
    assert (
        abs(page.locator('#listing th[data-column="title"]').bounding_box()["width"] - wider) <= 1
    )


READABLE = (
    "A body long enough to be cut by the width of its column, and short enough to be shown "
    "whole when it is opened."
)  # under the 120 characters a list selects of a value


@pytest.fixture
def long_value(browser_tables) -> Iterator[str]:
    """Row 3's body (NULL in the test data) holds READABLE for the test."""
    owner_execute(f"UPDATE {ITEMS} SET body = %s WHERE id = 3", (READABLE,))
    try:
        yield READABLE
    finally:
        owner_execute(f"UPDATE {ITEMS} SET body = NULL WHERE id = 3")


def cell_fit(cell) -> dict:
    """Return whether a cell's text fits in it (is not cut), its height and its title."""
    return cell.evaluate(
        """cell => ({
            fits: cell.scrollWidth <= cell.clientWidth + 1
                && cell.scrollHeight <= cell.clientHeight + 1,
            height: cell.getBoundingClientRect().height,
            title: cell.getAttribute('title'),
        })"""
    )


def test_a_long_value_is_cut_and_opens_whole_on_a_click_or_a_key_and_timestamps_are_not_cut(
    data_page, long_value
):
    page = data_page
    columns = "&".join(f"c={name}" for name in ("id", "title", "body", "created_at"))
    page.goto(f"/data/{ITEMS}/?n=25&{columns}")
    row = page.locator("#listing tbody tr").nth(2)
    body = row.locator("td.text.cut")
    expect(body).to_have_text(long_value)
    cut = cell_fit(body)
    assert not cut["fits"] and cut["title"] == long_value, cut

    # No timestamp is cut: each shows all of its text, and none needs a title to be read.
    stamps = page.locator("#listing tbody td.timestamp")
    assert stamps.count() == 25
    for index in range(stamps.count()):
        stamp = cell_fit(stamps.nth(index))
        assert stamp["fits"] and stamp["title"] is None, (index, stamp)
    expect(page.locator("#listing tbody td.timestamp.cut")).to_have_count(0)

    # A click opens the value whole, in place; another closes it.
    body.click()
    expect(body).to_have_class(re.compile(r"\bexpanded\b"))
    opened = cell_fit(body)
    assert opened["fits"] and opened["height"] > cut["height"], (cut, opened)
    shot(page, "data-list-value-opened")
    body.click()
    expect(body).not_to_have_class(re.compile(r"\bexpanded\b"))

    # From the keyboard: Tab from the row's link reaches the cut value; Enter opens it, Space
    # closes it (without scrolling the page).
    row.locator("td.key a").focus()
    page.keyboard.press("Tab")
    expect(body).to_be_focused()
    shot(page, "data-list-value-focused")
    page.keyboard.press("Enter")
    expect(body).to_have_class(re.compile(r"\bexpanded\b"))
    assert cell_fit(body)["fits"]
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")
    expect(body).not_to_have_class(re.compile(r"\bexpanded\b"))
    assert page.evaluate("window.scrollY") == scrolled

    # A value longer than the list reads (row 1's body) opens as far as it was read, and its
    # title says where the rest is.
    first = page.locator("#listing tbody tr").first.locator("td.text.cut")
    assert first.get_attribute("title").endswith("(open the row to read all of it)")
    first.click()
    expect(first).to_have_class(re.compile(r"\bexpanded\b"))
    assert first.inner_text().endswith("…") and cell_fit(first)["fits"]


def test_the_page_box_shows_the_page_after_next_and_after_a_jump(data_page):
    page = data_page
    page.goto(f"/data/{ITEMS}/?n=25")
    box = page.locator('#listing form.page-jump input[name="page"]')
    expect(box).to_have_value("1")
    for number in (2, 3):  # htmx swaps the list in; the box comes with it
        page.get_by_role("link", name=re.compile(r"^Next")).click()
        expect(first_cell(page)).to_have_text(str(25 * (number - 1) + 1))
        expect(box).to_have_value(str(number))
    assert "cursor=" in page.url
    shot(page, "data-list-page-3")
    box.fill("2")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url(re.compile(r"page=2"))
    expect(first_cell(page)).to_have_text("26")
    expect(box).to_have_value("2")
    page.reload()  # the full page of that address
    expect(box).to_have_value("2")
