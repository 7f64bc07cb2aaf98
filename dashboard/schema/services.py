"""What the Schema pages show: the table list and the Schema index page (with drift).

One table's page lives in `table_page`, the ER diagrams in `diagrams` and the page parts in
`page_parts`; their names are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from dashboard.paging import PageWindow, page_window
from dashboard.schema import catalog
from dashboard.schema.diagrams import neighbourhood_diagram, schema_diagram  # re-exported
from dashboard.schema.drift import DriftReport, drift_report
from dashboard.schema.page_parts import (  # re-exported
    PART_LOCK_TIMEOUT_MS,
    Part,
    locking_part,
    part_lock_timeout_ms,
    read_part,
    unknown_table,
)
from dashboard.schema.table_page import (  # re-exported
    NO_DEFINITIONS,
    ColumnInfo,
    ConstraintInfo,
    Definitions,
    ForeignKeyInfo,
    IndexInfo,
    Keys,
    PolicyInfo,
    TableDetail,
    TableFacts,
    TableSize,
    TriggerInfo,
    table_detail,
)
from dashboard.target import TargetError, run_read, target_schema

__all__ = [
    "NO_DEFINITIONS",
    "PART_LOCK_TIMEOUT_MS",
    "SEARCH_MAX_LENGTH",
    "SORTS",
    "TABLE_PAGE_SIZE",
    "ColumnInfo",
    "ConstraintInfo",
    "Definitions",
    "ForeignKeyInfo",
    "IndexInfo",
    "Keys",
    "Part",
    "PolicyInfo",
    "SchemaOverview",
    "TableDetail",
    "TableFacts",
    "TableList",
    "TableRow",
    "TableSize",
    "TriggerInfo",
    "drift_part",
    "locking_part",
    "neighbourhood_diagram",
    "part_lock_timeout_ms",
    "read_part",
    "schema_diagram",
    "schema_overview",
    "table_detail",
    "table_list",
    "unknown_table",
]

logger = logging.getLogger(__name__)

SORTS = ("name", "rows", "size")
TABLE_PAGE_SIZE = 100  # tables per page of the list: the page's cost is what it shows
SEARCH_MAX_LENGTH = 200


@dataclass(frozen=True)
class TableRow:
    """One table of the list; sizes are None when they could not be read."""

    name: str
    estimated_rows: int
    rls_enabled: bool
    rls_forced: bool
    comment: str | None
    column_count: int
    is_partitioned: bool
    is_partition: bool
    total_bytes: int | None = None
    index_bytes: int | None = None

    @property
    def rows_known(self) -> bool:
        return self.estimated_rows >= 0


@dataclass(frozen=True)
class TableList:
    """One page of the tables matching `search`, sorted by `sort`."""

    schema: str
    search: str
    sort: str
    tables: list[TableRow]
    window: PageWindow
    sizes_error: str = ""

    @property
    def matched(self) -> int:
        return self.window.matched


def _sort_key(sort: str) -> Callable[[TableRow], tuple]:
    if sort == "rows":
        return lambda row: (-row.estimated_rows, row.name)
    if sort == "size":
        return lambda row: (-(row.total_bytes if row.total_bytes is not None else -1), row.name)
    return lambda row: (row.name,)


def table_list(
    search: str = "", sort: str = "name", page: int = 1, *, page_size: int = TABLE_PAGE_SIZE
) -> TableList:
    """Return page `page` of the schema's tables whose name or comment contains `search`.

    Sizes are read for the tables of the page only, unless the list is sorted by size."""
    schema = target_schema()
    search = search.strip()[:SEARCH_MAX_LENGTH]
    sort = sort if sort in SORTS else "name"
    found = [TableRow(**row) for row in run_read(lambda conn: catalog.tables(conn, schema, search))]
    window = page_window(page, page_size, len(found))
    start, end = window.offset, window.offset + page_size
    if sort != "size":  # the order needs no sizes: read them for the page alone
        found = sorted(found, key=_sort_key(sort))[start:end]
    names = [row.name for row in found]
    sizes = locking_part(lambda conn: catalog.table_sizes(conn, schema, names), "table sizes")
    by_name = sizes.value or {}
    rows = [
        replace(
            row,
            total_bytes=by_name.get(row.name, {}).get("total_bytes"),
            index_bytes=by_name.get(row.name, {}).get("index_bytes"),
        )
        for row in found
    ]
    if sort == "size":
        rows = sorted(rows, key=_sort_key(sort))[start:end]
    return TableList(
        schema=schema,
        search=search,
        sort=sort,
        tables=rows,
        window=window,
        sizes_error=sizes.error,
    )


@dataclass(frozen=True)
class SchemaOverview:
    """The Schema index page: the table list and how the database compares with the models."""

    listing: TableList
    drift: Part[DriftReport]


def drift_part() -> Part[DriftReport]:
    """Return the drift report, or the sentence saying why the database could not be compared."""
    try:
        return Part(drift_report(lock_timeout_ms=part_lock_timeout_ms()))
    except TargetError as exc:
        logger.warning("schema: drift comparison failed: %s", exc.detail)
        return Part(error=exc.sentence)


def schema_overview(search: str = "", sort: str = "name", page: int = 1) -> SchemaOverview:
    """Return a page of the table list (filtered and sorted) and the drift report."""
    return SchemaOverview(listing=table_list(search, sort, page), drift=drift_part())
