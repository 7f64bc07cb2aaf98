"""The Data browser scoped to one end-user: `?scope_user=<id>` on a table's list.

The Data browser's list query accepts a `Restriction` (extra WHERE clauses, link parameters
that survive filtering and paging, a banner). This module turns the `scope_user` parameter into
one, following the table's ownership path, after the same checks as the user page: the
support role, and a reason given for that end-user in this session. Every scoped page is
written to the audit trail.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from dashboard.accounts.roles import ROLE_DESCRIPTIONS, has_role
from dashboard.audit.services import record
from dashboard.data.query import Restriction
from dashboard.schema.reflection import table_named
from dashboard.users import gate
from dashboard.users.detection import UsersTableProblem
from dashboard.users.ownership import ownership_map, rows_of_user
from dashboard.users.services import BROWSE, SCOPE_PARAM, subject_key


def user_scope(
    request: HttpRequest, table: str, action: str = "list"
) -> Restriction | HttpResponse:
    """Return the Restriction for `?scope_user=`, an empty one without it, or a response
    that stops the request (403 without the support role, the reason gate without a reason)."""
    subject = request.GET.get(SCOPE_PARAM)
    if subject is None:
        return Restriction()
    if not has_role(request.user, "support"):
        context = {"role": "support", "allows": ROLE_DESCRIPTIONS["support"]}
        return render(request, "errors/forbidden.html", context, status=403)
    try:
        owners = ownership_map()
    except UsersTableProblem as exc:
        raise Http404(exc.sentence) from None
    ownership = owners.owned.get(table)
    if ownership is None:
        raise Http404(
            f"The table “{table}” is not linked to {owners.users.name}, so it cannot be "
            "narrowed to one user's rows."
        )
    key_value = subject_key(owners, subject)
    reason = gate.reason_in_effect(request, owners.users.name, subject)
    if reason is None:
        url = reverse("users:detail", args=[subject])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    where = rows_of_user(owners, ownership.path, key_value, table=table_named(table))
    if action != "count":  # a count of rows the list shows anyway is not worth an event
        record(
            request,
            BROWSE,
            subject_user=subject,
            tables=[table],
            reason=reason,
            detail={"action": action, "path": ownership.path.detail or "the user's own row"},
        )
    how = ownership.path.detail or f"{owners.users.name}.{owners.users.key}"
    return Restriction(
        where=(where,),
        params=((SCOPE_PARAM, subject),),
        banner=f"Only the rows of end-user {subject} ({how}). Reason: {reason or 'none given'}.",
    )
