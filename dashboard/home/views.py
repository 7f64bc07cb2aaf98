"""The overview page (a checklist whose lines load on their own), the health endpoint and the
example background job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import forbidden, has_role, public, role_required
from dashboard.home import overview_checks as checks
from dashboard.home.services import health, target_overview
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue
from dashboard.queries.health import connection_usage, vacuum_state, wraparound
from dashboard.queries.report_views import owner_columns
from dashboard.target import TargetError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineKind:
    """A line of the Overview: its title (shown while it loads), who sees it, how it runs."""

    title: str
    role: str
    run: Callable[[HttpRequest], checks.CheckLine]


def _timeout() -> int:
    return int(settings.OVERVIEW_CHECK_TIMEOUT_MS)


# In the order an operator reads them. Thresholds come from the settings here, at the edge.
LINES: dict[str, LineKind] = {
    "migrations": LineKind(
        "Migrations and drift",
        "viewer",
        lambda request: checks.migrations_line(drift_timeout_ms=_timeout()),
    ),
    "sessions": LineKind(
        "Blocking and long transactions",
        "viewer",
        lambda request: checks.sessions_line(
            long_running_seconds=settings.QUERIES_LONG_RUNNING_SECONDS,
            idle_in_transaction_seconds=settings.QUERIES_IDLE_IN_TRANSACTION_SECONDS,
            timeout_ms=_timeout(),
        ),
    ),
    "statements": LineKind(
        "Slowest statements since the last snapshot",
        "viewer",
        lambda request: checks.statements_line(
            slow_ms=settings.OVERVIEW_SLOW_STATEMENT_MS,
            very_slow_ms=settings.OVERVIEW_VERY_SLOW_STATEMENT_MS,
            min_calls=settings.OVERVIEW_SLOW_STATEMENT_MIN_CALLS,
            timeout_ms=_timeout(),
        ),
    ),
    "indexes": LineKind(
        "Indexes",
        "viewer",
        lambda request: checks.indexes_line(owner_columns=owner_columns(), timeout_ms=_timeout()),
    ),
    "isolation": LineKind(
        "Isolation of users' data",
        "viewer",
        lambda request: checks.isolation_line(can_open_report=has_role(request.user, "support")),
    ),
    "connections": LineKind(
        "Connections",
        "viewer",
        lambda request: checks.connections_line(
            connection_usage(timeout_ms=_timeout()),
            warn_percent=settings.OVERVIEW_CONNECTIONS_WARN_PERCENT,
            bad_percent=settings.OVERVIEW_CONNECTIONS_BAD_PERCENT,
        ),
    ),
    "wraparound": LineKind(
        "Transaction ID wraparound",
        "viewer",
        lambda request: checks.wraparound_line(
            wraparound(timeout_ms=_timeout()),
            warn_percent=settings.OVERVIEW_WRAPAROUND_WARN_PERCENT,
            bad_percent=settings.OVERVIEW_WRAPAROUND_BAD_PERCENT,
        ),
    ),
    "dead-rows": LineKind(
        "Dead rows and vacuum",
        "viewer",
        lambda request: checks.dead_rows_line(
            vacuum_state(timeout_ms=_timeout()),
            warn_percent=settings.OVERVIEW_DEAD_ROWS_WARN_PERCENT,
            bad_percent=settings.OVERVIEW_DEAD_ROWS_BAD_PERCENT,
        ),
    ),
    "setup": LineKind(
        "Setup",
        "admin",
        lambda request: checks.setup_line(request_secure=request.is_secure()),
    ),
}


def _visible_lines(request: HttpRequest) -> list[tuple[str, LineKind]]:
    return [(key, kind) for key, kind in LINES.items() if has_role(request.user, kind.role)]


@role_required("viewer")
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx and request.GET.get("part") == "facts":
        try:
            context: dict[str, object] = {"overview": target_overview()}
        except TargetError as exc:
            context = {"overview_error": exc.sentence}
        return render(request, "home/index.html#facts", context)
    context = {
        "lines": _visible_lines(request),
        "recent_jobs": JobRun.objects.filter(kind="health_check")[:5],
    }
    return render(request, "home/index.html", context)


@role_required("viewer")  # at least; then the role the line needs
@require_GET
def overview_line(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """One line of the Overview's checklist: the htmx part, or a page of its own."""
    kind = LINES.get(key)
    if kind is None:
        raise Http404(f"The Overview has no line “{key}”.")
    if not has_role(request.user, kind.role):
        return forbidden(request, kind.role)
    context: dict[str, object] = {"key": key, "title": kind.title}
    try:
        context["line"] = kind.run(request)
    except TargetError as exc:
        context["error"] = exc.sentence
    except Exception:  # one broken check must not take the others' page down
        logger.exception("overview line %s failed", key)
        context["error"] = "This check failed unexpectedly; the console's log says why."
    template = "home/index.html#line" if request.htmx else "home/line.html"
    return render(request, template, context)


@public
@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    report = health()
    return JsonResponse(report, status=200 if report["ok"] else 503)


@role_required("viewer")
@require_POST
def health_check_start(request: HtmxHttpRequest) -> HttpResponse:
    from dashboard.jobs.tasks import health_check

    run = enqueue(health_check, kind="health_check", user=request.user)
    if request.htmx:
        return render(request, "jobs/run.html#progress", {"run": run})
    return redirect("job_detail", run_id=run.pk)
