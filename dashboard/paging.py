"""Numbered pages of a list whose cost must follow what is shown (tables of a big schema).

`PageWindow` says which slice of `matched` items a page shows; `page_window` clamps a requested
page number into range. Lists of a schema's tables are short enough (thousands, from the
catalog) to count exactly and slice by position; rows of user tables page by keyset instead
(dashboard/data/query.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageWindow:
    """Page `page` (from 1) of `matched` items, `size` a page."""

    page: int
    size: int
    matched: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.matched else 0

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.size, self.matched)

    @property
    def several(self) -> bool:
        return self.pages > 1

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def page_window(page: int, size: int, matched: int) -> PageWindow:
    """Return the window of page `page`, moved into 1..pages (a page past the end: the last)."""
    pages = max(1, -(-matched // size))
    return PageWindow(min(max(page, 1), pages), size, matched)
