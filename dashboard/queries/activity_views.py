"""Query performance pages of live activity and the admin actions: cancel, terminate, reset."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from dashboard.accounts.roles import role_required
from dashboard.audit.services import record
from dashboard.console_work import APPLICATION_NAME
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.params import BadParameter, timestamp
from dashboard.queries.actions import (
    nothing_to_cancel,
    reset_statement_statistics,
    signal_backend,
)
from dashboard.queries.activity import activity as read_activity
from dashboard.queries.activity import session_for
from dashboard.queries.view_helpers import roles_held
from dashboard.target import TargetError


def _activity_url(**params: str) -> str:
    url = reverse("queries:activity")
    return f"{url}?{urlencode(params)}" if params else url


@role_required("viewer")
def activity(request: HtmxHttpRequest) -> HttpResponse:
    show_idle = request.GET.get("idle") == "1"
    show_console = request.GET.get("console") == "1"
    paused = request.GET.get("refresh") == "off"
    roles = roles_held(request)
    target_error = ""
    try:
        data = read_activity(
            reveal_values="engineer" in roles,
            show_idle=show_idle,
            show_console=show_console,
            long_running_seconds=settings.QUERIES_LONG_RUNNING_SECONDS,
            idle_in_transaction_seconds=settings.QUERIES_IDLE_IN_TRANSACTION_SECONDS,
        )
    except TargetError as exc:
        if not request.htmx:
            raise
        data, target_error = None, exc.sentence  # the poll goes on and recovers by itself
    shown = {"idle": show_idle, "console": show_console}

    def url(paused: bool = False, **flip: bool) -> str:
        wanted = {**shown, **flip}
        params = {name: "1" for name, on in wanted.items() if on}
        return _activity_url(**params, **({"refresh": "off"} if paused else {}))

    context = {
        "tab": "activity",
        "activity": data,
        "target_error": target_error,
        "paused": paused,
        "show_idle": show_idle,
        "show_console": show_console,
        "poll_url": url(),
        "pause_url": url(paused=True),
        "idle_url": url(paused=paused, idle=not show_idle),
        "console_url": url(paused=paused, console=not show_console),
        "console_application": APPLICATION_NAME,
        "can_signal": "admin" in roles,
        "values_masked": "engineer" not in roles,
    }
    template = "queries/activity.html#sessions" if request.htmx else "queries/activity.html"
    return render(request, template, context)


@role_required("admin")
@require_http_methods(["GET", "POST"])
def signal(request: HtmxHttpRequest, pid: int, how: str) -> HttpResponse:
    if how not in ("cancel", "terminate"):
        raise Http404(f"“{how}” is not an action on a backend: use cancel or terminate.")
    if request.method == "GET":
        session = session_for(pid, reveal_values=True)
        if session is None and not request.htmx:
            raise Http404(f"Backend {pid} is not running any more.")
        context = {"tab": "activity", "session": session, "how": how, "pid": pid}
        if how == "cancel" and session is not None and not session.cancellable:
            context["nothing_to_cancel"] = nothing_to_cancel(pid, session.state)
        template = "queries/signal.html#confirm" if request.htmx else "queries/signal.html"
        return render(request, template, context)
    try:
        backend_start, _ = timestamp(request.POST.get("backend_start", ""), "backend_start")
    except BadParameter:
        backend_start = None
    if request.POST.get("confirm") != "yes" or backend_start is None:
        session = session_for(pid, reveal_values=True)
        context = {
            "tab": "activity",
            "session": session,
            "how": how,
            "pid": pid,
            "error": "Confirm by pressing the button on this form (it names the session).",
        }
        template = "queries/signal.html#confirm" if request.htmx else "queries/signal.html"
        return render(request, template, context, status=400)
    outcome = signal_backend(pid, backend_start, how)
    record(
        request,
        f"queries.{how}_backend",
        detail={
            "pid": pid,
            "backend_start": backend_start.isoformat(),
            "query_sha256": outcome.query_hash,
            "sent": outcome.sent,
        },
    )
    if request.htmx:
        return render(request, "queries/signal.html#outcome", {"outcome": outcome, "how": how})
    (messages.success if outcome.sent else messages.warning)(request, outcome.sentence)
    return redirect("queries:activity")


@role_required("admin")
@require_http_methods(["GET", "POST"])
def reset(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        database = reset_statement_statistics()
        record(request, "queries.reset_statistics", detail={"database": database})
        messages.success(
            request,
            f"The statement statistics of database “{database}” were reset. "
            "Snapshots taken before remain in the history.",
        )
        response: HttpResponse = redirect("queries:statements")
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("queries:statements")
        return response
    context = {"tab": "statements"}
    if request.method == "POST":
        context["error"] = "Confirm by pressing the reset button."
    template = "queries/reset.html#confirm" if request.htmx else "queries/reset.html"
    return render(request, template, context, status=400 if request.method == "POST" else 200)
