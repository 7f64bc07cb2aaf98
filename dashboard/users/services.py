"""The support view's work: find a user, show and export their data, each step audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import Http404
from django.urls import NoReverseMatch
from django.utils.http import urlencode

from dashboard.data.links import data_path
from dashboard.data.shown_rows import plain_key
from dashboard.users.detection import UsersTableProblem
from dashboard.users.export import export_document
from dashboard.users.footprint import Footprint, user_footprint
from dashboard.users.isolation import IsolationReport, isolation_report
from dashboard.users.lookup import Lookup, find_users
from dashboard.users.ownership import NotAUserKey, OwnershipMap, coerce_key, ownership_map

if TYPE_CHECKING:
    from dashboard.users.access import RowsAccess

# Audit actions written by this section.
SEARCH = "user.search"
VIEW = "user.view"
EXPORT = "user.export"
# The Data browser's URL parameter that scopes a table's list to one user's rows.
SCOPE_PARAM = "scope_user"


@dataclass
class Overview:
    """The ownership map, or the sentence saying why there is none."""

    owners: OwnershipMap | None
    problem: str = ""


def overview() -> Overview:
    """Return the ownership map of the target, or the problem that prevents one."""
    try:
        return Overview(ownership_map())
    except UsersTableProblem as exc:
        return Overview(None, exc.sentence)


def subject_key(owners: OwnershipMap, subject: str) -> object:
    """Return `subject` as a value of the users' key, or raise a 404 with a sentence."""
    try:
        return coerce_key(owners.key_column, subject)
    except NotAUserKey:
        raise Http404(
            f"“{subject}” cannot be a user id: {owners.users.name}.{owners.users.key} holds "
            f"values of another type."
        ) from None


def search(access: RowsAccess, owners: OwnershipMap, query: str) -> Lookup:
    """Return the users matching `query`, after writing the search to the audit trail."""
    lookup = find_users(owners, query)
    access.record(
        SEARCH,
        tables=[owners.users.name],
        detail={"query": query, "matches": [match.key for match in lookup.matches]},
    )
    return lookup


def view_user(
    access: RowsAccess,
    owners: OwnershipMap,
    subject: str,
    only_table: str | None = None,
) -> Footprint:
    """Return the user's footprint (one table's if `only_table`), after auditing the view.

    The page reads the first rows of the first SUPPORT_USER_PAGE_CARDS tables with rows; the
    other cards load theirs when opened (`only_table`), each audited on its own."""
    key_value = subject_key(owners, subject)
    eager_cards = max(0, int(settings.SUPPORT_USER_PAGE_CARDS))
    if only_table is not None:
        if only_table not in owners.owned:
            raise Http404(f"The table “{only_table}” is not linked to {owners.users.name}.")
        owners = _only(owners, only_table)
        eager_cards = 1  # the card that was opened
    footprint = user_footprint(owners, subject, key_value, eager_cards=eager_cards)
    for item in footprint.tables:
        item.browse_url = data_browser_url(item.table, subject, item.newest_by)
        if item.browse_url:
            item.status_links = [
                (value, count, f"{item.browse_url}&{status_filter(item.status_column, value)}")
                for value, count in item.status_counts
            ]
    access.record(
        VIEW,
        tables=footprint.table_names,
        detail={"users_table": owners.users.name, "rows": _rows_shown(footprint)},
    )
    return footprint


def export_stream(access: RowsAccess, owners: OwnershipMap, subject: str) -> Iterator[str]:
    """Return the user's JSON export as text pieces, after auditing the export."""
    key_value = subject_key(owners, subject)
    batch_rows = int(settings.SUPPORT_EXPORT_BATCH_ROWS)
    access.record(
        EXPORT,
        tables=list(owners.owned),
        detail={"users_table": owners.users.name, "format": "json", "rows": "all of the user's"},
    )
    return export_document(owners, subject, key_value, batch_rows)


def ownership_rows(owners: OwnershipMap) -> list[dict[str, object]]:
    """Return, per owned table, its ownership and whether each step's owner column is indexed."""
    rows = []
    for ownership in owners.owned.values():
        missing = owners.unindexed_links(ownership.path)
        steps = [{"link": link, "indexed": link not in missing} for link in ownership.path.links]
        rows.append({"ownership": ownership, "steps": steps})
    return rows


def isolation(owners: OwnershipMap) -> IsolationReport:
    """Return the isolation report of the tables owned by users."""
    return isolation_report(owners)


def data_browser_url(table: str, subject: str, newest_by: str = "") -> str | None:
    """Return the Data browser's list of `table` scoped to `subject` (newest first when the
    table has a timestamp column, as the user page shows it), or None if absent."""
    try:
        url = data_path("data:list", table)  # memoized: a page links hundreds of tables
    except NoReverseMatch:
        return None
    params = {SCOPE_PARAM: subject, **({"o": f"-{newest_by}"} if newest_by else {})}
    return f"{url}?{urlencode(params)}"


def status_filter(column: str, value: str) -> str:
    """Return the Data browser's filter for rows whose `column` is `value` ("NULL": empty)."""
    if value == "NULL":
        return urlencode({f"f.null.{column}": "null"})
    return urlencode({f"f.eq.{column}": value})


def _only(owners: OwnershipMap, table: str) -> OwnershipMap:
    """Return a copy of the map that owns just `table` (for a one-table refresh)."""
    return OwnershipMap(
        owners.users,
        owners.tables,
        {table: owners.owned[table]},
        owners.unlinked,
        owners.skipped,
        owners.problems,
        owners.facts,
    )


def _rows_shown(footprint: Footprint) -> dict[str, dict[str, Any]]:
    """Return, per table with rows shown, their count and keys (the counts are not rows)."""
    return {
        item.table: {"count": len(item.rows), "keys": [plain_key(key) for key in item.keys]}
        for item in footprint.tables
        if item.rows
    }
