"""The time machine's pages: compare one end-user's data with a branch, or as of a time.

`/users/u/<id>/compare/` lists the branches to compare with and the "as of" form; with
`?branch=<id>` it shows, per table on the user's ownership paths, how many rows were deleted,
added and changed since; `&table=<t>&kind=<k>` (an htmx part, lazily loaded) pages through those
rows. Every view needs the reason for this end-user and is audited (`user.compare`, with the
branch, the counts and the keys of the rows shown). Restoring rows is in dashboard/changes.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard import params
from dashboard.accounts.roles import has_role, role_required
from dashboard.branches.provider import BranchError
from dashboard.branches.provider_access import _logged
from dashboard.changes.links import add_row_url, may_change_rows, row_change_urls
from dashboard.data.cursor import BadCursor
from dashboard.data.shown_rows import plain_key
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.users import gate, services
from dashboard.users.access import RowsAccess, user_access
from dashboard.users.compare import (
    KINDS,
    Comparison,
    branch_columns,
    comparable_tables,
    compare,
    diff_page,
)
from dashboard.users.forms import AsOfForm
from dashboard.users.ownership import OwnershipMap
from dashboard.users.time_machine import (
    AsOfRefused,
    Source,
    as_of,
    as_of_job,
    compare_choices,
    open_source,
)
from dashboard.write_settings import writes_problem

COMPARE = "user.compare"


def _refused(request: HtmxHttpRequest, sentence: str, status: int) -> HttpResponse:
    template = "changes/refused.html#notice" if request.htmx else "changes/refused.html"
    return render(request, template, {"sentence": sentence}, status=status)


def _access(
    request: HtmxHttpRequest, subject: str
) -> tuple[OwnershipMap, RowsAccess] | HttpResponse:
    """Return the ownership map and this end-user's access, or the response to send instead."""
    found = services.overview()
    if found.owners is None:
        return _refused(request, found.problem, 404)
    owners = found.owners
    services.subject_key(owners, subject)  # a 404 with a sentence if it cannot be an id
    access = user_access(request, owners, subject)
    if access is None:
        return gate.ask_for_reason(request, gate.for_user(owners.users.name, subject))
    return owners, access


def compare_url(subject: str, **params: str) -> str:
    url = reverse("users:compare", args=[subject])
    kept = {name: value for name, value in params.items() if value}
    return f"{url}?{urlencode(kept)}" if kept else url


@role_required("support")
@require_GET
def compare_page(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    found = _access(request, subject)
    if isinstance(found, HttpResponse):
        return found
    owners, access = found
    context: dict[str, object] = {"owners": owners, "subject": subject, "reason": access.reason}
    job = request.GET.get("job")
    if job is not None:
        return _as_of_progress(request, subject, job, context)
    branch_id = request.GET.get("branch")
    if not branch_id:
        choices = compare_choices()
        context.update(
            choices=choices,
            form=AsOfForm(),
            may_keep=has_role(request.user, "engineer"),
            zone=timezone.get_current_timezone_name(),
        )
        return render(request, "users/compare.html", context)
    try:
        source = open_source(branch_id)
    except BranchError as exc:
        return _refused(request, _logged(exc, f"opening branch {branch_id} to compare"), 409)
    key_value = services.subject_key(owners, subject)
    table = request.GET.get("table")
    if table is not None:
        return _rows_part(request, owners, access, source, subject, key_value, table, context)
    comparison = compare(owners, subject, key_value, _now_reader(), source.read)
    access.record(
        COMPARE,
        tables=[item.table for item in comparison.tables],
        detail={
            "branch_id": source.branch.id,
            "branch_name": source.branch.name,
            "counts": _counts(comparison),
        },
    )
    context.update(
        source=source,
        comparison=comparison,
        as_of=_as_of_param(request),
        kinds=KINDS,
        writes_problem=writes_problem(),
        may_restore=has_role(request.user, "admin"),
    )
    return render(request, "users/compare.html", context)


def _now_reader():
    from django.conf import settings

    from dashboard.target import run_read

    timeout = int(settings.COMPARE_TIMEOUT_MS)
    return lambda work: run_read(work, timeout_ms=timeout)


def _counts(comparison: Comparison) -> dict[str, dict[str, object]]:
    return {
        item.table: {**item.counts, "capped": item.capped, "timed_out": item.timed_out}
        for item in comparison.tables
        if item.differs
    }


def _as_of_param(request: HtmxHttpRequest) -> datetime | None:
    return params.optional(
        request.GET, "as_of", lambda raw, name: params.timestamp(raw, name)[0], None
    )


def _rows_part(
    request: HtmxHttpRequest,
    owners: OwnershipMap,
    access: RowsAccess,
    source: Source,
    subject: str,
    key_value: object,
    table: str,
    context: dict[str, object],
) -> HttpResponse:
    kind = params.choice(request.GET.get("kind", ""), "kind", list(KINDS))
    table = params.identifier(table, "table")
    if table not in owners.owned:
        raise Http404(f"The table “{table}” is not linked to {owners.users.name}.")
    [item] = comparable_tables(
        owners,
        branch_columns(source.read, str(owners.users_table.schema), list(owners.owned)),
        only=table,
    )
    if item.problem:
        return _refused(request, item.problem, 409)
    try:
        page = diff_page(
            owners,
            item,
            kind,
            key_value,
            _now_reader(),
            source.read,
            request.GET.get("cursor", ""),
        )
    except BadCursor as exc:
        return _refused(request, str(exc), 400)
    if may_change_rows(request.user) and kind != "deleted":
        for row in page.rows:  # rows that are there now can be edited or deleted
            row.urls = row_change_urls(subject, table, row.key)
    if page.rows:
        access.record(
            COMPARE,
            tables=[table],
            detail={
                "branch_id": source.branch.id,
                "branch_name": source.branch.name,
                "kind": kind,
                "rows": {
                    "count": len(page.rows),
                    "keys": [plain_key(dict(r.key)) for r in page.rows],
                },
            },
        )
    context.update(
        source=source,
        page=page,
        next_url=compare_url(
            subject,
            branch=source.branch.id,
            table=table,
            kind=kind,
            cursor=page.next_cursor,
        )
        if page.next_cursor
        else "",
        first_url=compare_url(subject, branch=source.branch.id, table=table, kind=kind),
        paged=bool(request.GET.get("cursor")),
        may_restore=may_change_rows(request.user),
        add_url=add_row_url(subject, table) if may_change_rows(request.user) else "",
    )
    template = "users/compare.html#rows" if request.htmx else "users/compare_rows.html"
    return render(request, template, context)


def _as_of_progress(
    request: HtmxHttpRequest, subject: str, job: str, context: dict[str, object]
) -> HttpResponse:
    run_id = params.integer(job, "job", minimum=1, maximum=params.INT4[1])
    found = as_of_job(run_id)
    if found is None:
        raise Http404(f"There is no “as of” job #{run_id}.")
    run, asked = found
    if run.status == run.Status.SUCCEEDED and run.result.get("branch_id"):
        when = asked.options.get("point_in_time") or ""
        url = compare_url(subject, branch=str(run.result["branch_id"]), as_of=str(when))
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context.update(run=run, asked=asked)
    template = "users/compare.html#job" if request.htmx else "users/compare.html"
    return render(request, template, context)


@role_required("support")
@require_POST
def compare_as_of(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    found = _access(request, subject)
    if isinstance(found, HttpResponse):
        return found
    form = AsOfForm(request.POST)
    if not form.is_valid():
        errors = " ".join(" ".join(map(str, e)) for e in form.errors.values())
        messages.error(request, errors)
        return redirect(compare_url(subject))
    keep = bool(form.cleaned_data["keep"]) and has_role(request.user, "engineer")
    when = form.cleaned_data["when"]
    try:
        asked = as_of(request, when, keep=keep)
    except AsOfRefused as exc:
        messages.error(request, exc.sentence)
        return redirect(compare_url(subject))
    if asked.snapshot is not None:
        return redirect(compare_url(subject, branch=asked.snapshot.id, as_of=when.isoformat()))
    assert asked.run is not None
    return redirect(compare_url(subject, job=str(asked.run.pk)))


@role_required("support")
@require_POST
def compare_discard(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    """Delete a branch made for a comparison (not kept) now, instead of at its expiry."""
    found = _access(request, subject)
    if isinstance(found, HttpResponse):
        return found
    from dashboard.branches.services import action_target, start_action

    branch_id = request.POST.get("branch", "")
    try:
        source = open_source(branch_id)
    except BranchError as exc:
        return _refused(request, _logged(exc, f"opening branch {branch_id} to delete it"), 409)
    if not source.disposable:
        return _refused(
            request,
            f"Branch {source.branch.name} was not made for a comparison (or is kept): delete it "
            "from the branches page.",
            403,
        )
    target = action_target(source.branch.id, "delete")
    if target.error or target.refusal:
        return _refused(request, target.error or target.refusal, 409)
    run = start_action(request, target)
    messages.info(request, f"Branch {source.branch.name} is being deleted (job #{run.pk}).")
    return redirect("users:detail", subject=subject)
