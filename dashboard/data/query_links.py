"""Links of a list page: the query parameters that keep its state across sorting and paging.

`ListLinks` is the link half of `ListQuery` (see query.py): every link of the page carries the
restriction, columns, order, filters, search and page size that differ from the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils.http import urlencode

from dashboard.data.links import data_path
from dashboard.data.query_statements import SortOrder

PARAM_COLUMNS = "c"
PARAM_ORDER = "o"
PARAM_SEARCH = "q"
PARAM_SEARCH_IN = "in"
PARAM_SIZE = "n"
PARAM_CURSOR = "cursor"
PARAM_PAGE = "page"
PARAM_BACK = "back"  # on a row page: the list it was opened from (its query string)
BACK_MAX = 2000


class ListLinks:
    """The links of a list page, built from the parsed state of a `ListQuery`."""

    @property
    def list_path(self) -> str:
        return data_path("data:list", self.table.name)

    def state(
        self,
        *,
        order: SortOrder | None = None,
        drop: Sequence[str] = (),
        filters: bool = True,
        search: bool = True,
        position: tuple[str, str] | None = None,
        size: int | None = None,
    ) -> list[tuple[str, str]]:
        """Return the query parameters of this list with some changes (for a link)."""
        items: list[tuple[str, str]] = list(self.restriction.params)
        if self.columns_given and self.shown != self.default_columns:
            items += [(PARAM_COLUMNS, name) for name in self.shown]
        order = order or self.order
        if order != self.default_order:
            items.append((PARAM_ORDER, order.token))
        if filters:
            items += [(k, v) for k, v in self.filters.params() if k not in drop]
        if search and self.search:
            items.append((PARAM_SEARCH, self.search))
            if self.search_in != self.default_search_in:
                items += [(PARAM_SEARCH_IN, name) for name in self.search_in]
        size = size or self.page_size
        if size != int(getattr(settings, "DATA_PAGE_SIZE", 50)):
            items.append((PARAM_SIZE, str(size)))
        if position is not None:
            items.append(position)
        return items

    def url(self, items: list[tuple[str, str]], path: str | None = None) -> str:
        query = urlencode(items)
        return (path or self.list_path) + (f"?{query}" if query else "")

    def current_url(self) -> str:
        """Return this page's own link (first page of the current state)."""
        return self.url(self.state())

    def sort_url(self, name: str) -> str:
        """Return the link that sorts by `name` (ascending, or flipped if already sorted by it)."""
        descending = not self.order.descending if self.order.column == name else False
        return self.url(self.state(order=SortOrder(name, descending)))

    def next_url(self, last_keys: Sequence[Any], start: int | None = None) -> str:
        """Return the page after the row with `last_keys`; `start` is where it starts."""
        token = self.cursor_for(last_keys, "next", start)
        return self.url(self.state(position=(PARAM_CURSOR, token)))

    def prev_url(self, first_keys: Sequence[Any], start: int | None = None) -> str:
        """Return the page before the row with `first_keys`; `start` is where it starts."""
        token = self.cursor_for(first_keys, "prev", start)
        return self.url(self.state(position=(PARAM_CURSOR, token)))

    def page_url(self, page: int) -> str:
        position = (PARAM_PAGE, str(page)) if page > 1 else None
        return self.url(self.state(position=position))

    def without_filter_url(self, param: str) -> str:
        return self.url(self.state(drop=[param]))

    def clear_url(self) -> str:
        """Return the list with no filters and no search (columns and order kept)."""
        return self.url(self.state(filters=False, search=False))

    def size_url(self, size: int) -> str:
        return self.url(self.state(size=size))

    def export_url(self) -> str:
        return self.url(self.state(), data_path("data:export", self.table.name))

    def count_url(self) -> str:
        return self.url(self.state(), data_path("data:count", self.table.name))

    def here_url(self) -> str:
        """Return this very page: its state and its position (cursor or page number)."""
        return self.url(self.state(position=self.position_param()))

    def back_pair(self) -> tuple[str, str]:
        """Return the parameter a row link carries so the row page leads back to this very
        list page: its filters, order, columns, scope and position."""
        items = self.state(position=self.position_param())
        return (PARAM_BACK, urlencode(items)[:BACK_MAX])

    def hidden_inputs(self) -> list[tuple[str, str]]:
        """Return what the filter form must carry besides its own fields (restriction, order,
        page size)."""
        items = list(self.restriction.params)
        if self.order != self.default_order:
            items.append((PARAM_ORDER, self.order.token))
        if self.page_size != int(getattr(settings, "DATA_PAGE_SIZE", 50)):
            items.append((PARAM_SIZE, str(self.page_size)))
        return items
