"""Pages that change end-users' rows: restore from a branch, edit, add, delete, revert.

Each is for administrators, only when row changes are enabled (DATA_WRITES_ENABLED and
TARGET_WRITE_DATABASE_URL), behind the reason gate for the end-user, and in two steps: the
exact SQL first (with the tables row-level security guards and those that get the ownership
predicate), then, with a reason, the write through the one write door
(dashboard/target_write.py), which audits it before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from sqlalchemy import Table

from dashboard.accounts.roles import has_role, role_required
from dashboard.audit.filters import detail_lines
from dashboard.branches.provider import BranchError
from dashboard.branches.provider_access import _logged
from dashboard.changes.fields import (
    UNSET,
    Submitted,
    database_errors,
    form_fields,
    model_errors,
    read_form,
)
from dashboard.changes.forms import ChangeReasonForm
from dashboard.changes.restore import RestoreRefused, restore_plan
from dashboard.changes.revert import RevertRefused, image_pairs, revert_plan, write_events
from dashboard.changes.row_edits import (
    ChangeRefused,
    add_plan,
    cascade_counts,
    delete_plan,
    delete_preview,
    edit_plan,
    one_time_mark,
    owned_table,
    read_row,
    read_shown,
    sign_shown,
)
from dashboard.data.cursor import BadCursor
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.target_write import apply, preview
from dashboard.users import services
from dashboard.users.access import RowsAccess
from dashboard.users.compare import (
    branch_columns,
    comparable_tables,
    read_token,
    restorable,
    selection_token,
)
from dashboard.users.compare_views import _access, _now_reader, _refused, compare_url
from dashboard.users.ownership import OwnershipMap
from dashboard.users.time_machine import open_source
from dashboard.write_plan import ReasonMissing, WriteOutcome, WritePlan, WriteRefused
from dashboard.write_settings import writes_problem

CASCADE_SALT = "schemadesk.changes.cascade"
EVENT_VIEW = "audit.view_change"
CHANGE_PREVIEW = "user.change_preview"  # a change's SQL shown: it carries rows' values
CHANGE_FORM = "user.change_form"  # an edit form: the row's values


def _scoped(
    request: HtmxHttpRequest, subject: str
) -> tuple[OwnershipMap, RowsAccess, object] | HttpResponse:
    """Return the map, the access and the user's key, or the response that refuses."""
    problem = writes_problem()
    if problem:
        return _refused(request, problem, 403)
    found = _access(request, subject)
    if isinstance(found, HttpResponse):
        return found
    owners, access = found
    return owners, access, services.subject_key(owners, subject)


def _reason_form(request: HtmxHttpRequest, access: RowsAccess) -> ChangeReasonForm:
    if request.POST.get("step") == "apply":
        return ChangeReasonForm(request.POST)
    return ChangeReasonForm(initial={"reason": access.reason})


def _write(
    request: HtmxHttpRequest,
    plan: WritePlan,
    owners: OwnershipMap,
    form: ChangeReasonForm,
) -> WriteOutcome | WriteRefused:
    """Apply `plan` as previewed; return the outcome, or the refusal (nothing was written)."""
    if not form.is_valid():
        return ReasonMissing()
    try:
        return apply(
            request, plan, owners, form.cleaned_data["reason"], request.POST.get("digest", "")
        )
    except WriteRefused as exc:
        return exc


def _confirm_context(plan: WritePlan, owners: OwnershipMap, access: RowsAccess) -> dict[str, Any]:
    """Return the preview of `plan` for the page, recording the look (its SQL shows rows)."""
    shown = preview(plan, owners)
    keys = [dict(change.key) for change in plan.changes if change.key]
    access.record(
        CHANGE_PREVIEW,
        tables=plan.tables,
        detail={"kind": plan.kind, "rows": {"count": len(plan.changes), "keys": keys[:100]}},
    )
    return {"preview": shown, "statements": shown.statements, "digest": shown.digest}


def _outcome(
    request: HtmxHttpRequest, subject: str, outcome: WriteOutcome, labels: list[str], back: str
) -> HttpResponse:
    skipped = [
        (labels[index] if index < len(labels) else f"#{index}", why)
        for index, why in outcome.skipped
    ]
    context = {
        "subject": subject,
        "outcome": outcome,
        "skipped": skipped,
        "applied_labels": [labels[i] for i in outcome.applied if i < len(labels)],
        "cascaded": _cascaded(outcome) if outcome.ok else [],
        "back": back,
    }
    return render(request, "changes/outcome.html", context, status=409 if outcome.error else 200)


def _cascaded(outcome: WriteOutcome) -> list[tuple[str, str, int]]:
    """Return what the applied deletes' cascades touched: (table, action, rows)."""
    counts: dict[tuple[str, str], int] = {}
    for image in outcome.before:
        role = str(image.get("role", ""))
        if role.startswith("cascade:") and image.get("change") in outcome.applied:
            slot = (str(image["table"]), role.removeprefix("cascade:"))
            counts[slot] = counts.get(slot, 0) + 1
    return [(table, action, n) for (table, action), n in counts.items()]


def _labels(plan: WritePlan) -> list[str]:
    return [
        f"{change.table} "
        + (", ".join(f"{n} = {v}" for n, v in change.key) or "(new row)")
        + (f" ({change.note})" if change.note else "")
        for change in plan.changes
    ]


# -- restore --------------------------------------------------------------------------------------


@role_required("admin")
@require_POST
def restore(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    scoped = _scoped(request, subject)
    if isinstance(scoped, HttpResponse):
        return scoped
    owners, access, key_value = scoped
    branch_id = request.GET.get("branch", "")
    try:
        source = open_source(branch_id)
    except BranchError as exc:
        return _refused(request, _logged(exc, f"opening branch {branch_id} to restore"), 409)
    try:
        selected = [read_token(token) for token in request.POST.getlist("row")]
        whole = request.POST.getlist("table")
        if whole:
            schema = str(owners.users_table.schema)
            items = comparable_tables(
                owners, branch_columns(source.read, schema, list(owners.owned))
            )
            by_name = {item.table: item for item in items}
            from dashboard.write_settings import max_rows

            for name in whole:
                item = by_name.get(name)
                if item is None or item.problem:
                    raise RestoreRefused(f"“{name[:60]}” cannot be restored as a whole table.")
                selected += restorable(
                    owners, item, key_value, _now_reader(), source.read, max_rows()
                )
        branch = {"branch_id": source.branch.id, "branch_name": source.branch.name}
        planned = restore_plan(owners, subject, key_value, source.read, selected, branch)
    except BadCursor as exc:
        return _refused(request, str(exc), 400)
    except (RestoreRefused, ValueError) as exc:
        return _refused(request, str(exc), 409)
    back = compare_url(subject, branch=source.branch.id)
    form = _reason_form(request, access)
    notice, status = "", 200
    if request.POST.get("step") == "apply":
        result = _write(request, planned.plan, owners, form)
        if isinstance(result, WriteOutcome):
            return _outcome(request, subject, result, _labels(planned.plan), back)
        notice, status = result.sentence, result.status
    try:
        confirm = _confirm_context(planned.plan, owners, access)
    except WriteRefused as exc:
        return _refused(request, exc.sentence, exc.status)
    context: dict[str, object] = {
        "subject": subject,
        "branch_name": source.branch.name,
        "restore": planned,
        "tokens": [selection_token(s) for s in selected],
        "form": form,
        "notice": notice,
        "back": back,
        "action": request.get_full_path(),
        **confirm,
    }
    return render(request, "changes/restore.html", context, status=status)


# -- edit, add, delete ----------------------------------------------------------------------------


def _owner_columns(owners: OwnershipMap, table: str) -> set[str]:
    """Return the column that ties a row to its end-user: an edit does not move rows."""
    path = owners.owned[table].path
    return {path.owner_column or owners.users.key}


@role_required("admin")
@require_http_methods(["GET", "POST"])
def edit_row(request: HtmxHttpRequest, subject: str, table: str) -> HttpResponse:
    scoped = _scoped(request, subject)
    if isinstance(scoped, HttpResponse):
        return scoped
    owners, access, key_value = scoped
    reflected = owned_table(owners, table)
    back = reverse("users:detail", args=[subject])
    context: dict[str, Any] = {"subject": subject, "table": table, "mode": "edit", "back": back}
    if request.method == "GET":
        row = read_row(owners, reflected, key_value, request.GET)
        fields = form_fields(reflected, row.values, fixed=_owner_columns(owners, table))
        shown_token = sign_shown(row, [f.name for f in fields if not f.info.masked], subject, table)
        access.record(CHANGE_FORM, tables=[table], detail={"rows": {"keys": [dict(row.key)]}})
        context.update(fields=fields, shown=shown_token, key=row.key)
        return render(request, "changes/row_form.html", context)
    try:
        shown = read_shown(request.POST.get("shown", ""), subject, table)
    except ChangeRefused as exc:
        return _refused(request, str(exc), 400)
    fields = form_fields(reflected, shown.values, fixed=_owner_columns(owners, table))
    submitted = read_form(fields, request.POST, original=shown.values)
    context.update(fields=fields, shown=request.POST.get("shown"), key=shown.key)

    def build() -> WritePlan:
        return edit_plan(subject, reflected, shown, submitted.values)

    return _change_step(request, owners, access, reflected, submitted, context, build)


@role_required("admin")
@require_http_methods(["GET", "POST"])
def add_row(request: HtmxHttpRequest, subject: str, table: str) -> HttpResponse:
    scoped = _scoped(request, subject)
    if isinstance(scoped, HttpResponse):
        return scoped
    owners, access, _ = scoped
    reflected = owned_table(owners, table)
    path = owners.owned[table].path
    initial: dict[str, str | None] = {}
    if path.is_direct and path.links[0].parent_column == owners.users.key:
        initial[path.links[0].child_column] = subject
    elif not path.links:
        initial[owners.users.key] = subject
    fields = form_fields(reflected, initial, adding=True)
    for field in fields:  # the owner column is given, not left to a default
        if field.name in initial:
            field.use_default = False
    context: dict[str, Any] = {
        "subject": subject,
        "table": table,
        "mode": "add",
        "fields": fields,
        "back": reverse("users:detail", args=[subject]),
        "once": one_time_mark(request.POST.get("once")),  # one form, one added row
    }
    if request.method == "GET":
        return render(request, "changes/row_form.html", context)
    submitted = read_form(fields, request.POST, original={}, adding=True)

    def build() -> WritePlan:
        return add_plan(subject, reflected, submitted.values, UNSET, context["once"])

    return _change_step(request, owners, access, reflected, submitted, context, build)


def _change_step(
    request: HtmxHttpRequest,
    owners: OwnershipMap,
    access: RowsAccess,
    reflected: Table,
    submitted: Submitted,
    context: dict[str, Any],
    build: Callable[[], WritePlan],
) -> HttpResponse:
    """Check an edit or add, then preview it, or apply it when confirmed."""
    subject, fields = context["subject"], context["fields"]
    errors = dict(submitted.errors)
    for name, message in model_errors(reflected.name, submitted.python).items():
        errors.setdefault(name, message)
    for field in fields:
        field.error = errors.get(field.name, "")
    back = reverse("users:detail", args=[subject])
    form = _reason_form(request, access)
    context.update(form=form, back=back)
    if errors:
        context["notice"] = "Some values are not valid: see the fields."
        return render(request, "changes/row_form.html", context, status=400)
    try:
        plan = build()
    except ChangeRefused as exc:
        context["notice"] = str(exc)
        return render(request, "changes/row_form.html", context, status=400)
    status = 200
    if request.POST.get("step") == "apply":
        result = _write(request, plan, owners, form)
        if isinstance(result, WriteOutcome):
            if result.error is not None:
                on_fields, rest = database_errors(reflected, result.error)
                for field in fields:
                    field.error = on_fields.get(field.name, field.error)
                context["notice"] = rest or "The database refused the change: see the fields."
                context.update(_confirm_context(plan, owners, access))
                return render(request, "changes/row_form.html", context, status=400)
            return _outcome(request, subject, result, _labels(plan), back)
        context["notice"], status = result.sentence, result.status
    try:
        context.update(_confirm_context(plan, owners, access))
    except WriteRefused as exc:
        return _refused(request, exc.sentence, exc.status)
    return render(request, "changes/row_form.html", context, status=status)


@role_required("admin")
@require_http_methods(["GET", "POST"])
def delete_row(request: HtmxHttpRequest, subject: str, table: str) -> HttpResponse:
    scoped = _scoped(request, subject)
    if isinstance(scoped, HttpResponse):
        return scoped
    owners, access, key_value = scoped
    reflected = owned_table(owners, table)
    back = reverse("users:detail", args=[subject])
    form = _reason_form(request, access)
    notice, status = "", 200
    if request.method == "GET":
        row = read_row(owners, reflected, key_value, request.GET)
        shown_token = sign_shown(row, [], subject, table)
        try:
            first = preview(delete_plan(subject, reflected, row), owners)
        except WriteRefused as exc:
            return _refused(request, exc.sentence, exc.status)
        effects = delete_preview(owners, first.scope, first.plan.changes[0])
        counts = cascade_counts(effects)
        cascade_token = signing.dumps([list(c) for c in counts], salt=CASCADE_SALT)
        plan = delete_plan(subject, reflected, row, counts)
        values = row.values
    else:
        try:
            shown = read_shown(request.POST.get("shown", ""), subject, table)
            counts = tuple(
                (str(t), str(a), int(n))
                for t, a, n in signing.loads(request.POST.get("cascade", ""), salt=CASCADE_SALT)
            )
        except (ChangeRefused, signing.BadSignature, ValueError, TypeError):
            return _refused(request, "The form was damaged or edited; open the row again.", 400)
        from dashboard.row_text import TextRow

        row = TextRow(shown.key, dict.fromkeys(shown.columns), shown.fingerprint)
        plan = delete_plan(subject, reflected, row, counts)
        shown_token, cascade_token = request.POST["shown"], request.POST["cascade"]
        effects = None
        values = {}
        result = _write(request, plan, owners, form)
        if isinstance(result, WriteOutcome):
            return _outcome(request, subject, result, _labels(plan), back)
        notice, status = result.sentence, result.status
    try:
        confirm = _confirm_context(plan, owners, access)
    except WriteRefused as exc:
        return _refused(request, exc.sentence, exc.status)
    if effects is None:
        effects = delete_preview(owners, confirm["preview"].scope, plan.changes[0])
    context = {
        "subject": subject,
        "table": table,
        "key": row.key,
        "values": [(f.name, f) for f in form_fields(reflected, values)] if values else [],
        "effects": effects,
        "shown": shown_token,
        "cascade": cascade_token,
        "form": form,
        "notice": notice,
        "back": back,
        **confirm,
    }
    return render(request, "changes/delete.html", context, status=status)


# -- the audit trail's write events: before and after, and revert ---------------------------------


def _write_event(request: HtmxHttpRequest, event_id: int):
    from dashboard.audit.filters import visible_events

    event = visible_events(request.user).filter(pk=event_id).first()
    if event is None:
        raise Http404(f"There is no audit event #{event_id} you may see.")
    return event


@role_required("support")
@require_GET
def event_detail(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    """One audit event; for a row change, the rows before and after, and the revert."""
    event = _write_event(request, event_id)
    context: dict[str, Any] = {"event": event, "lines": detail_lines(event.detail, limit=400)}
    try:
        intent, outcome = write_events(event)
    except RevertRefused:
        return render(request, "changes/event.html", context)
    # The images are end-users' rows: the reason for that end-user comes first.
    found = _access(request, intent.subject_user)
    if isinstance(found, HttpResponse):
        return found
    _, access = found
    access.record(
        EVENT_VIEW,
        tables=list(intent.tables),
        detail={"event": event.pk, "write_id": intent.detail.get("write_id")},
    )
    context.update(
        intent=intent,
        outcome=outcome,
        rows=image_pairs(intent, outcome),
        may_revert=has_role(request.user, "admin") and not writes_problem(),
        writes_problem=writes_problem(),
    )
    return render(request, "changes/event.html", context)


@role_required("admin")
@require_http_methods(["GET", "POST"])
def revert(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    """Undo an audited write: its inverse, previewed, then applied through the write door."""
    problem = writes_problem()
    if problem:
        return _refused(request, problem, 403)
    event = _write_event(request, event_id)
    try:
        intent, _ = write_events(event)
    except RevertRefused as exc:
        return _refused(request, str(exc), 409)
    subject = intent.subject_user
    found = _access(request, subject)
    if isinstance(found, HttpResponse):
        return found
    owners, access = found
    try:
        plan = revert_plan(event, owners)
    except RevertRefused as exc:
        return _refused(request, str(exc), 409)
    back = reverse("audit:event", args=[intent.pk])
    form = _reason_form(request, access)
    notice, status = "", 200
    if request.method == "POST":
        result = _write(request, plan, owners, form)
        if isinstance(result, WriteOutcome):
            return _outcome(request, subject, result, _labels(plan), back)
        notice, status = result.sentence, result.status
    try:
        confirm = _confirm_context(plan, owners, access)
    except WriteRefused as exc:
        return _refused(request, exc.sentence, exc.status)
    context = {
        "subject": subject,
        "intent": intent,
        "plan": plan,
        "labels": _labels(plan),
        "form": form,
        "notice": notice,
        "back": back,
        **confirm,
    }
    return render(request, "changes/revert.html", context, status=status)
