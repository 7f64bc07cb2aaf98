"""The branches pages: list, create, one branch, reveal, delete, reset, schema diff, job progress.

Thin views: parse the request, call one service function, render the page or (htmx) its part.
A provider failure renders its sentence; a full page then answers 503, an htmx part 200 so
that htmx swaps the notice in.
"""

from __future__ import annotations

from functools import partial

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.roles import has_role, role_required
from dashboard.branches import services
from dashboard.branches.forms import ConfirmNameForm, ConfirmResetForm, CreateBranchForm
from dashboard.branches.provider import CREATING, BranchError
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.params import integer, optional


def _status(request: HtmxHttpRequest, failed: bool) -> int:
    return 503 if failed and not request.htmx else 200


def _template(request: HtmxHttpRequest, page: str, part: str) -> str:
    return f"branches/{page}.html#{part}" if request.htmx else f"branches/{page}.html"


def _can_change(request: HtmxHttpRequest) -> bool:
    return has_role(request.user, "engineer")


def _job_response(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """Answer a started job: its progress part for htmx, else a redirect to its page."""
    if request.htmx:
        return render(request, "branches/job.html#progress", {"job": services.branch_job(run_id)})
    return redirect("branches:job", run_id=run_id)


@role_required("viewer")
@require_GET
def branch_list(request: HtmxHttpRequest) -> HttpResponse:
    number = optional(request.GET, "page", partial(integer, minimum=1, maximum=1_000_000), 1)
    page = services.branch_list(number)
    return render(
        request,
        _template(request, "list", "branches"),
        {"page": page, "can_change": _can_change(request)},
        status=_status(request, bool(page.error)),
    )


@role_required("engineer")
@require_http_methods(["GET", "POST"])
def branch_create(request: HtmxHttpRequest) -> HttpResponse:
    choices = services.create_choices()
    form = None
    if not choices.error:
        form = CreateBranchForm(request.POST or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            run = services.start_create(request, form.new_branch())
            return _job_response(request, run.pk)
    return render(
        request,
        _template(request, "create", "form"),
        {"choices": choices, "form": form},
        status=_status(request, bool(choices.error)),
    )


@role_required("viewer")
@require_GET
def branch_detail(request: HtmxHttpRequest, branch_id: str) -> HttpResponse:
    part = request.GET.get("part") if request.htmx else None
    if part == "connection":
        connection = services.connection_part(branch_id)
        return render(
            request,
            "branches/detail.html#connection",
            {"part": connection, "can_change": _can_change(request)},
        )
    page = services.branch_page(branch_id)
    if part == "summary" and page.branch is not None and page.branch.state != CREATING:
        # The branch polled while being made is done: reload the whole page, so the
        # connection strings and the schema comparison appear too.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        _template(request, "detail", "summary"),
        {"page": page, "part": page.connection, "can_change": _can_change(request)},
        status=_status(request, bool(page.error)),
    )


@role_required("engineer")
@require_POST
@never_cache  # the answer holds passwords: no browser or proxy may keep it
def branch_reveal(request: HtmxHttpRequest, branch_id: str) -> HttpResponse:
    part = services.reveal_connection(request, branch_id)
    if request.htmx:
        return render(
            request, "branches/detail.html#connection", {"part": part, "can_change": True}
        )
    page = services.branch_page(branch_id)
    return render(
        request,
        "branches/detail.html",
        {"page": page, "part": part, "can_change": True},
        status=_status(request, bool(page.error)),
    )


@role_required("viewer")
@require_GET
def branch_schema_diff(request: HtmxHttpRequest, branch_id: str) -> HttpResponse:
    diff = services.schema_difference(branch_id)
    return render(request, _template(request, "diff", "diff"), {"diff": diff})


def _confirmed_action(request: HtmxHttpRequest, branch_id: str, action: str) -> HttpResponse:
    target = services.action_target(branch_id, action)
    form: ConfirmNameForm | ConfirmResetForm | None = None
    if target.branch is not None and not target.refusal:
        data = request.POST if request.method == "POST" else None
        if action == "delete":
            form = ConfirmNameForm(data, expected=target.branch.name)
        else:
            form = ConfirmResetForm(data, branch_name=target.branch.name, children=target.children)
        if request.method == "POST" and form.is_valid():
            options = {k: v for k, v in form.cleaned_data.items() if k == "preserve_under_name"}
            try:
                run = services.start_action(request, target, options=options)
            except BranchError as exc:
                target.refusal = exc.sentence
            else:
                return _job_response(request, run.pk)
    return render(
        request,
        _template(request, "confirm", "form"),
        {"target": target, "form": form},
        status=_status(request, bool(target.error)),
    )


@role_required("engineer")
@require_http_methods(["GET", "POST"])
def branch_delete(request: HtmxHttpRequest, branch_id: str) -> HttpResponse:
    return _confirmed_action(request, branch_id, "delete")


@role_required("engineer")
@require_http_methods(["GET", "POST"])
def branch_reset(request: HtmxHttpRequest, branch_id: str) -> HttpResponse:
    return _confirmed_action(request, branch_id, "reset")


@role_required("viewer")
@require_GET
def branch_job(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    job = services.branch_job(run_id)
    return render(request, _template(request, "job", "progress"), {"job": job})
