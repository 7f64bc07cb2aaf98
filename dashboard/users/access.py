"""Looks at end-users' data: the one place that decides whether rows need a reason, and that
records every look in the audit trail.

End-users' data is any row of the users table or of a table with an ownership path to it
(dashboard/users/ownership.py), shown by any page: the Data browser's lists, counts, row pages
(with their child lists) and CSV exports, the user search, the user page and the JSON export.
Before such rows are read the gate (dashboard/users/gate.py) must have a reason for the
purpose: one end-user when the page is about one (`?scope_user=<id>`, the user page), browsing
otherwise. Once they are shown, the page calls `RowsAccess.record` with what it showed and one
event is written: the operator, the reason, the subject end-user when known, the tables, the
filters and the rows (their primary keys; the first and last key and the count for a list).

Tables without a path to the users table (lookup tables) need no reason and write no event.
When the users table cannot be found, which tables are user-owned is unknown, so every table
is treated as user-owned (deny by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from sqlalchemy import Table

from dashboard.audit.chain import stored_detail
from dashboard.audit.models import AuditEvent
from dashboard.audit.services import record
from dashboard.data.links import children_of
from dashboard.data.query import Restriction
from dashboard.data.services import browsable_table
from dashboard.params import identifier
from dashboard.schema.reflection import Reflection, reflection
from dashboard.target import target_schema
from dashboard.users import gate
from dashboard.users.detection import UsersTableProblem
from dashboard.users.ownership import OwnershipMap, TableOwnership, ownership_map, rows_of_user
from dashboard.users.services import SCOPE_PARAM, subject_key

# Audit actions of the Data browser (the user page's are in dashboard/users/services.py).
DATA_LIST = "data.list"
DATA_ROW = "data.row"
DATA_EXPORT = "data.export"
DATA_COUNT = "data.count"  # a count asked for on its own, not as the part of a list page


def current_owners(current: Reflection | None = None) -> OwnershipMap | None:
    """Return the ownership map, or None when there is no usable users table."""
    try:
        return ownership_map(current)
    except UsersTableProblem:
        return None


def owned_among(owners: OwnershipMap | None, names: Iterable[str]) -> list[str]:
    """Return which of the tables `names` hold end-users' data (all of them without a map)."""
    return [name for name in names if owners is None or name in owners.owned]


@dataclass
class RowsAccess:
    """The gate's answer for one page: whether it shows end-users' rows, under which reason,
    the restriction to apply (one end-user's scope), and how to record what was shown."""

    request: HttpRequest
    owned: list[str] = field(default_factory=list)  # the tables of the page that are user-owned
    reason: str = ""
    subject: str = ""  # the end-user in scope, '' when browsing
    restriction: Restriction = field(default_factory=Restriction)
    ownership: TableOwnership | None = None  # the page's table's path to the users table
    owners: OwnershipMap | None = None
    tables: Mapping[str, Table] | None = None  # the reflection the decision was made on

    def record(
        self,
        action: str,
        *,
        tables: Iterable[str],
        detail: dict[str, Any],
        subject: str = "",
    ) -> AuditEvent | None:
        """Write the event of this look (nothing for lookup tables); return it."""
        owned = set(self.owned)
        shown = [name for name in tables if name in owned]
        if not shown:
            return None
        if self.restriction.where:  # the Data browser narrowed to one end-user
            path = self.ownership.path.detail if self.ownership else ""
            detail = {**detail, "scope": path or "the user's own row"}
        return record(
            self.request,
            action,
            subject_user=self.subject or subject,
            tables=shown,
            reason=self.reason,
            detail=detail,
        )

    # -- the end-user the rows belong to, when the page says it without another query ---------
    def _owner_column(self) -> str:
        """Return the column of the page's table holding the users' key ('' if none does)."""
        if self.owners is None or self.ownership is None:
            return ""
        path = self.ownership.path
        if not path.links:
            return self.owners.users.key
        link = path.links[0]
        if path.is_direct and link.parent_column == self.owners.users.key:
            return link.child_column
        return ""

    def subject_in_filters(self, filters: Iterable[tuple[str, str, str]]) -> str:
        """Return the end-user an equality filter (column, op, value) pins the list to, or ''."""
        column = self._owner_column()
        values = {value for name, op, value in filters if name == column and op == "eq"}
        return values.pop() if column and len(values) == 1 else ""

    def recorded_by(
        self,
        event_id: int | None,
        action: str,
        table: str,
        selection: Mapping[str, Any],
        subject: str = "",
    ) -> bool:
        """Return True when `event_id` is this operator's own recent event of `action` on
        `table` that recorded `selection` (the same filters, search and end-user): what asks
        is a part of that look (a list's lazily loaded count), already in the trail.

        Anything else (no event, another operator's, another selection, older than the
        reason's time to live) is a look of its own and must write its own event."""
        if event_id is None or not self.owned:
            return False
        event = AuditEvent.objects.filter(
            pk=event_id,
            operator_id=self.request.user.pk,
            action=action,
            at__gte=timezone.now() - gate.reason_ttl(),
        ).first()
        if event is None or event.tables != [table]:
            return False
        detail = event.detail or {}
        scoped = "scope" in detail
        return (
            scoped == bool(self.restriction.where)
            and event.reason == self.reason.strip()
            and all(detail.get(key) == value for key, value in stored_detail(selection).items())
            and event.subject_user == (self.subject or subject)
        )

    def subject_of_row(self, values: Mapping[str, Any]) -> str:
        """Return the end-user one row belongs to, from its own owner column, or ''."""
        column = self._owner_column()
        value = values.get(column) if column else None
        return "" if value is None or isinstance(value, bool) else str(value)


def table_access(
    request: HttpRequest, table: str, *, with_children: bool = False, back: str = ""
) -> RowsAccess | HttpResponse:
    """Return the access to `table`'s rows (and its children's, for a row page), or the
    response that sends the operator to the reason form first.

    `?scope_user=<id>` narrows the rows to that end-user's (a 404 for a table not linked to
    the users table) and needs a reason for that end-user; otherwise a user-owned table needs
    a reason for browsing. `back` is where the reason form returns (default: this page)."""
    current = reflection()  # one schema for the decision and the page
    found, tables = browsable_table(table, current.tables)  # an unknown table is a 404 first
    owners = current_owners(current)
    subject = request.GET.get(SCOPE_PARAM)
    if subject is not None:
        subject = identifier(subject, SCOPE_PARAM)  # a 400 for an empty id or a line break
        return _scoped_access(request, table, subject, owners, tables, back)
    owned = owned_among(owners, [table])
    if with_children:
        children = [name for name in _child_tables(found, tables) if name != table]
        # The children of an end-user's row are that end-user's rows too, whatever their own
        # path; under a lookup row, only the children that are user-owned themselves.
        owned += children if owned else owned_among(owners, children)
    if not owned:
        return RowsAccess(request, tables=tables)
    reason = gate.reason_in_effect(request, gate.BROWSING)
    if reason is None:
        return gate.ask_for_reason(request, gate.BROWSING, back)
    ownership = owners.owned.get(table) if owners is not None else None
    return RowsAccess(request, owned, reason, ownership=ownership, owners=owners, tables=tables)


def _child_tables(table: Table, tables: Mapping[str, Table]) -> list[str]:
    """Return the tables whose rows a row page of `table` lists (its children), once each."""
    return list(dict.fromkeys(fk.table.name for fk in children_of(table, tables)))


def _scoped_access(
    request: HttpRequest,
    table: str,
    subject: str,
    owners: OwnershipMap | None,
    tables: Mapping[str, Table],
    back: str,
) -> RowsAccess | HttpResponse:
    if owners is None:
        raise Http404(
            "There is no users table (see USERS_TABLE), so no list can be narrowed to one "
            "user's rows."
        )
    ownership = owners.owned.get(table)
    if ownership is None:
        raise Http404(
            f"The table “{table}” is not linked to {owners.users.name}, so it cannot be "
            "narrowed to one user's rows."
        )
    key_value = subject_key(owners, subject)
    purpose = gate.for_user(owners.users.name, subject)
    reason = gate.reason_in_effect(request, purpose)
    if reason is None:
        return gate.ask_for_reason(request, purpose, back)
    # The clause must name the very Table object the page selects from (this reflection's).
    where = rows_of_user(owners, ownership.path, key_value, table=tables[table])
    how = ownership.path.detail or f"{owners.users.name}.{owners.users.key}"
    restriction = Restriction(
        where=(where,),
        params=((SCOPE_PARAM, subject),),
        banner=f"Only the rows of end-user {subject} ({how}). Reason: {reason or 'none given'}.",
        origin=reverse("users:detail", args=[subject]),
        origin_label=subject,
    )
    # Every table reached from a row in scope (its child lists) is shown for this end-user.
    return RowsAccess(
        request,
        list(tables),
        reason,
        subject,
        restriction,
        ownership=ownership,
        owners=owners,
        tables=tables,
    )


def statement_access(
    request: HttpRequest, relations: Iterable[tuple[str | None, str]], back: str
) -> RowsAccess | HttpResponse:
    """Return the access for running a statement over `relations` ((schema, name) as written),
    or the reason form first (which comes back to `back`).

    Running it (EXPLAIN ANALYZE) counts its rows for the values typed: does an account with
    this email exist, how many orders has that one? A relation that is not a lookup table of
    the target schema (a user-owned table, a view, another schema's relation: what it holds is
    not known) makes that a look at end-users' data, which needs the reason for browsing."""
    current = reflection()
    owners = current_owners(current)
    schema = target_schema()
    owned = [
        name
        for relation_schema, name in relations
        if relation_schema not in (None, schema)
        or name not in current.tables
        or owners is None
        or name in owners.owned
    ]
    if not owned:
        return RowsAccess(request, tables=current.tables)
    reason = gate.reason_in_effect(request, gate.BROWSING)
    if reason is None:
        return gate.ask_for_reason(request, gate.BROWSING, back)
    return RowsAccess(request, owned, reason, owners=owners, tables=current.tables)


def browsing_access(request: HttpRequest, owners: OwnershipMap) -> RowsAccess | HttpResponse:
    """Return the access for searching the users table, or the reason form first."""
    reason = gate.reason_in_effect(request, gate.BROWSING)
    if reason is None:
        return gate.ask_for_reason(request, gate.BROWSING, request.get_full_path())
    users = owners.users.name
    return RowsAccess(request, [users], reason, ownership=owners.owned.get(users), owners=owners)


def user_access(request: HttpRequest, owners: OwnershipMap, subject: str) -> RowsAccess | None:
    """Return the access to one end-user's data, or None when the gate must ask first."""
    reason = gate.reason_in_effect(request, gate.for_user(owners.users.name, subject))
    if reason is None:
        return None
    return RowsAccess(
        request,
        list(owners.owned),
        reason,
        subject,
        ownership=owners.owned.get(owners.users.name),
        owners=owners,
    )
