"""The slow-query list: its query object (window, filters, sort, page) and the rows it shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.http import QueryDict
from django.utils.http import urlencode
from sqlalchemy import Connection

from dashboard.console_work import console_roles
from dashboard.params import INT8, BadParameter, floating, integer, optional, text

T = TypeVar("T")
PAGE_SIZE = 50
MAX_PAGE = INT8[1] // PAGE_SIZE  # the OFFSET of the last page still fits a bigint

# Time windows: "live" reads pg_stat_statements (everything since its last reset); the others
# add up the deltas stored by the snapshot job.
WINDOWS: dict[str, tuple[str, timedelta | None]] = {
    "live": ("Since stats reset (live)", None),
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
}

# Sort keys: label, the column (an alias of the list's SQL and of the window aggregate) and
# direction. Only these names ever reach ORDER BY.
SORTS: dict[str, tuple[str, str, str]] = {
    "total": ("Total time", "total_ms", "DESC"),
    "mean": ("Mean time", "mean_ms", "DESC"),
    "calls": ("Calls", "calls", "DESC"),
    "rows": ("Rows", "rows", "DESC"),
    "read": ("Blocks read", "shared_blks_read", "DESC"),
    "hit": ("Lowest hit ratio", "hit_ratio", "ASC"),
    "temp": ("Temp blocks", "temp_blks", "DESC"),
}

ALL_DATABASES = "*"


@dataclass
class StatementFilters:
    """What the operator asked the slow-query list for, parsed from named query parameters."""

    window: str = "live"
    sort: str = "total"
    text: str = ""
    min_calls: int = 0
    min_mean_ms: float = 0.0
    database: str = ""  # "" = the target's database, "*" = all databases
    username: str = ""
    page: int = 1
    include_console: bool = False  # the console's own statements are hidden unless asked for
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, query: QueryDict) -> StatementFilters:
        """Return the filters in `query`; malformed values keep their default and an error."""
        filters = cls()
        errors: dict[str, str] = {}
        window = query.get("window", "live")
        if window in WINDOWS:
            filters.window = window
        else:
            errors["window"] = f"Unknown time window “{window}”; showing since stats reset."
        sort = query.get("sort", "total")
        if sort in SORTS:
            filters.sort = sort
        else:
            errors["sort"] = f"Unknown sort “{sort}”; sorted by total time."
        filters.text = _text(query, "q", 200, errors)
        filters.database = _text(query, "db", 128, errors)
        filters.username = _text(query, "user", 128, errors)
        calls = partial(integer, minimum=0, expected="a whole number of calls")
        filters.min_calls = _number(query, "min_calls", calls, 0, errors)
        mean = partial(floating, minimum=0.0, expected="a number of milliseconds")
        filters.min_mean_ms = _number(query, "min_mean", mean, 0.0, errors)
        page = partial(integer, minimum=1, maximum=MAX_PAGE, expected="a page number")
        filters.page = _number(query, "page", page, 1, errors)
        filters.include_console = query.get("console") == "1"
        filters.errors = errors
        return filters

    @property
    def window_label(self) -> str:
        return WINDOWS[self.window][0]

    @property
    def window_span(self) -> timedelta | None:
        return WINDOWS[self.window][1]

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort][0]

    @property
    def sort_column(self) -> str:
        return SORTS[self.sort][1]

    @property
    def sort_direction(self) -> str:
        return SORTS[self.sort][2]

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def all_databases(self) -> bool:
        return self.database == ALL_DATABASES

    def hidden_roles(self, conn: Connection | None = None) -> list[str]:
        """Return the roles whose statements the list leaves out (the console's, unless asked).

        `conn`, a read-only connection to the target, is used if the console's roles must be
        looked up."""
        if self.include_console or self.username:
            return []  # a role asked for by name is shown, even the console's own
        return list(console_roles(conn))

    def params(self, **changes: Any) -> dict[str, str]:
        """Return the non-default query parameters, with `changes` applied."""
        current = dataclasses.replace(self, **changes)
        values = {
            "window": (current.window, "live"),
            "sort": (current.sort, "total"),
            "q": (current.text, ""),
            "db": (current.database, ""),
            "user": (current.username, ""),
            "min_calls": (current.min_calls, 0),
            "min_mean": (current.min_mean_ms, 0.0),
            "page": (current.page, 1),
            "console": ("1" if current.include_console else "", ""),
        }
        return {key: _plain(value) for key, (value, default) in values.items() if value != default}

    def query_string(self, **changes: Any) -> str:
        """Return `?…` keeping every filter (page back to 1 unless given)."""
        changes.setdefault("page", 1)
        encoded = urlencode(self.params(**changes))
        return f"?{encoded}" if encoded else "?"


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(query: QueryDict, name: str, length: int, errors: dict[str, str]) -> str:
    try:
        return text(query.get(name, "").strip()[:length], name)
    except BadParameter as exc:
        errors[name] = f"{exc.sentence} It was left out."
        return ""


def _number(
    query: QueryDict, name: str, parse: Callable[[str, str], T], default: T, errors: dict[str, str]
) -> T:
    """Return the parameter parsed, or `default` with a sentence in `errors`."""
    try:
        return optional(query, name, parse, default)
    except BadParameter as exc:
        errors[name] = f"“{query.get(name, '')[:40]}” is not {exc.expected}; it was left out."
        return default


@dataclass
class StatementRow:
    """One statement key's figures, live or added up over a time window."""

    queryid: int
    userid: int
    dbid: int
    toplevel: bool
    database: str
    username: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks: int
    share: float | None = None  # percent of the total time of the scope (database/user)
    text: str = ""

    @property
    def hit_ratio(self) -> float | None:
        touched = self.shared_blks_hit + self.shared_blks_read
        return 100.0 * self.shared_blks_hit / touched if touched else None

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0


@dataclass
class StatementPage:
    """One page of the slow-query list and what the page needs around it."""

    filters: StatementFilters
    rows: list[StatementRow] = field(default_factory=list)
    matching: int = 0
    scope_total_ms: float = 0.0
    since: datetime | None = None  # stats reset time (live) or window start
    evicted: int | None = None  # entries deallocated since the reset (pg_stat_statements.max)
    databases: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    this_database: str = ""
    snapshots_in_window: int = 0
    console_roles: tuple[str, ...] = ()  # whose statements are hidden unless include_console

    @property
    def has_next(self) -> bool:
        return self.filters.offset + len(self.rows) < self.matching

    @property
    def has_previous(self) -> bool:
        return self.filters.page > 1

    @property
    def first_index(self) -> int:
        return self.filters.offset + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.filters.offset + len(self.rows)
