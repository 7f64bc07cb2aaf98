"""Numbered pages of short lists: which slice a page shows, and a page number out of range."""

from __future__ import annotations

import pytest

from dashboard.paging import page_window


@pytest.mark.parametrize(
    ("page", "matched", "expected"),
    [
        (1, 0, (1, 1, 0, 0, None, None)),
        (1, 250, (1, 3, 1, 100, None, 2)),
        (3, 250, (3, 3, 201, 250, 2, None)),
        (7, 250, (3, 3, 201, 250, 2, None)),  # past the end: the last page
        (0, 250, (1, 3, 1, 100, None, 2)),
        (2, 200, (2, 2, 101, 200, 1, None)),
    ],
)
def test_window(page, matched, expected):
    window = page_window(page, 100, matched)
    shown = (window.page, window.pages, window.first_shown, window.last_shown)
    assert (*shown, window.previous, window.next) == expected
    assert window.several == (window.pages > 1)
