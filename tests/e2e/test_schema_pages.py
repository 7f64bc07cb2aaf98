"""Schema pages in a real browser: htmx filtering under the CSP, links, inline diagrams.

Set SCREENSHOT_DIR to also save a screenshot of each page (used to review the look).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.schema import reflection
from tests.dashboard.schema.builders import (
    MANY_TABLES,
    VARIETY_DDL,
    built_schema,
    many_tables_ddl,
)
from tests.e2e.conftest import luminance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def variety_schema() -> Iterator[str]:
    with built_schema("e2e", VARIETY_DDL) as schema:
        yield schema


@pytest.fixture
def schema_page(logged_in_page, settings, variety_schema):
    """A logged-in page whose console targets the variety schema; it records CSP violations."""
    settings.TARGET = {**settings.TARGET, "SCHEMA": variety_schema}
    settings.REFLECTION_CHECK_SECONDS = 0
    reflection.invalidate()
    violations: list[str] = []
    logged_in_page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    logged_in_page.csp_violations = violations
    yield logged_in_page
    reflection.invalidate()


def snapshot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_filter_narrows_the_list_as_you_type_and_updates_the_address(schema_page):
    page = schema_page
    page.goto("/schema/")
    rows = page.locator("#table-list tbody tr")
    assert rows.count() == 7
    snapshot(page, "schema-tables")
    page.fill("#table-filter", "ord")
    expect(page.locator("#table-list tbody tr")).to_have_count(2)  # the CSP forbids eval
    assert "q=ord" in page.url
    assert page.locator("#table-list tbody tr td:first-child a").all_inner_texts() == [
        "order",
        "order_line",
    ]
    page.fill("#table-filter", "")
    expect(page.locator("#table-list tbody tr")).to_have_count(7)
    assert page.csp_violations == []


def test_table_page_links_to_neighbours_through_the_inline_diagram(schema_page):
    page = schema_page
    page.goto("/schema/")
    page.click("#table-list a:text-is('order')")
    page.wait_for_url("**/schema/order/")
    assert page.locator("h1").inner_text() == "order"
    assert page.locator("#columns tbody tr").count() == 6
    diagram = page.locator("#diagram svg.erd")
    assert diagram.is_visible()
    assert diagram.locator("g.erd-table").count() == 3
    snapshot(page, "schema-table-order")
    diagram.locator("a[href='/schema/order_line/']").click()
    page.wait_for_url("**/schema/order_line/")
    assert "(order_id, line_no)" in page.locator("#keys").inner_text()
    assert page.csp_violations == []


def test_whole_schema_diagram_renders_every_table(schema_page):
    page = schema_page
    page.goto("/schema/diagram")
    assert page.locator("svg.erd g.erd-table").count() == 7
    assert page.locator("svg.erd path.erd-edge").count() == 5
    box = page.locator("svg.erd").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    snapshot(page, "schema-diagram")
    assert page.csp_violations == []


def test_hundreds_of_tables_make_a_compact_diagram(schema_page, settings):
    page = schema_page
    with built_schema("e2e_many", many_tables_ddl()) as many:
        settings.TARGET = {**settings.TARGET, "SCHEMA": many}
        page.goto("/schema/diagram")
        tables = page.locator("svg.erd g.erd-table")
        assert tables.count() == MANY_TABLES
        assert tables.first.locator("text").count() == 2  # name and column count only
        snapshot(page, "schema-diagram-many")
        page.goto("/schema/?q=t12")
        expect(page.locator("#table-list tbody tr")).to_have_count(10)
    assert page.csp_violations == []


def test_the_diagram_finds_a_table_and_focuses_on_its_neighbours(schema_page):
    page = schema_page
    page.goto("/schema/diagram")
    page.fill("#erd-search-input", "order")
    page.press("#erd-search-input", "Enter")
    focused = page.locator("svg.erd g.erd-table.erd-focus")
    expect(focused).to_have_count(1)
    assert focused.get_attribute("data-table") == "order"
    near = page.locator("svg.erd g.erd-table.erd-near")
    names = sorted(near.evaluate_all("boxes => boxes.map(b => b.dataset.table)"))
    linked = page.locator("svg.erd path.erd-edge.erd-near")
    ends = linked.evaluate_all("edges => edges.map(e => [e.dataset.source, e.dataset.target])")
    assert ends and all("order" in pair for pair in ends)
    assert names == sorted({end for pair in ends for end in pair} - {"order"})
    assert "erd-focusing" in page.locator("svg.erd").get_attribute("class")
    expect(page.locator("#erd-open")).to_have_attribute("href", "/schema/order/")
    expect(page.locator("#erd-search-status")).to_contain_text("order:")
    # A click on another box focuses on it; a second click opens its page.
    other = page.locator(f"svg.erd g.erd-table[data-table='{names[0]}']")
    other.click()
    expect(other).to_have_class("erd-table erd-focus")
    other.click()
    page.wait_for_url(f"**/schema/{names[0]}/")
    assert page.csp_violations == []


def test_a_part_of_a_name_marks_every_match(schema_page, settings):
    page = schema_page
    with built_schema("e2e_find", many_tables_ddl()) as many:
        settings.TARGET = {**settings.TARGET, "SCHEMA": many}
        page.goto("/schema/diagram")
        page.fill("#erd-search-input", "t15")
        expect(page.locator("svg.erd g.erd-table.erd-match")).to_have_count(10)  # t150 to t159
        expect(page.locator("#erd-search-status")).to_have_text(
            "10 tables match; pick one to focus on it."
        )
        page.fill("#erd-search-input", "t152")  # in the chain t150 <- t151 <- ... <- t154
        page.press("#erd-search-input", "Enter")
        near = page.locator("svg.erd g.erd-table.erd-near")
        expect(near).to_have_count(2)
        assert sorted(near.evaluate_all("boxes => boxes.map(b => b.dataset.table)")) == [
            "t151",
            "t153",
        ]
    assert page.csp_violations == []


@pytest.mark.parametrize("path", ["/schema/diagram", "/schema/order/"])
def test_the_diagram_follows_the_dark_scheme(schema_page, path):
    """Seen: the ER diagram stayed white in the dark scheme (its colours are attributes)."""
    page = schema_page
    page.emulate_media(color_scheme="light")
    page.goto(path)
    assert luminance(page, "svg.erd .erd-box", "fill") > 0.9
    assert luminance(page, "svg.erd .erd-ink", "fill") < 0.05
    page.emulate_media(color_scheme="dark")
    assert luminance(page, "svg.erd .erd-box", "fill") < 0.05
    assert luminance(page, "svg.erd .erd-ink", "fill") > 0.6
    assert luminance(page, "svg.erd .erd-head", "fill") < 0.05
    assert page.csp_violations == []
