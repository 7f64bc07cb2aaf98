"""Middleware: login everywhere, roles declared by every view, a Content Security Policy, and
errors without stack traces."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from dashboard.accounts.roles import forbidden, has_role
from dashboard.params import BadParameter, check_no_nul
from dashboard.target import TargetError, TargetRejected

logger = logging.getLogger(__name__)

# Paths reachable without logging in: the login page itself, health checks, static files.
PUBLIC_PREFIXES = ("/login/", "/healthz", "/static/")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

Handler = Callable[[HttpRequest], HttpResponse]


class LoginRequiredMiddleware:
    """Send anonymous requests to the login page (htmx requests get a full-page redirect)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Public paths first: /healthz must answer without loading a session from the
        # console's database (it reports that database being down).
        if request.path.startswith(PUBLIC_PREFIXES) or request.user.is_authenticated:
            return self.get_response(request)
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{reverse('login')}?{urlencode({'next': request.path})}"
            return response
        return redirect_to_login(request.get_full_path())


class RoleRequiredMiddleware:
    """Deny by default: a view runs only if it is public or the operator holds its role.

    The role comes from the view's own declaration (`role_required` sets `required_role`,
    `public` sets `public`); a view that declares neither is refused to everyone. The role is
    read from the database on every request, so taking it away takes effect at once.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        if getattr(view_func, "public", False):
            return None
        role = getattr(view_func, "required_role", None)
        if role is None:
            logger.error("view %s declares no role: refused", getattr(view_func, "__name__", "?"))
            return forbidden(request, None)
        if not has_role(request.user, role):
            return forbidden(request, role)
        return None


class ContentSecurityPolicyMiddleware:
    """Add a strict Content Security Policy: only our own scripts and styles run."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class FriendlyErrorsMiddleware:
    """Turn bad request values into a 400 and target-database failures into a sentence in the
    page (full page, or the notice alone for htmx); log the detail, never a stack trace."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            # No request value may hold a NUL: PostgreSQL cannot store one in text.
            check_no_nul(request.path, request.GET.lists(), request.POST.lists())
        except BadParameter as exc:
            return bad_request(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BadParameter):
            return bad_request(request, exception)
        if isinstance(exception, TargetError):
            if not isinstance(exception, TargetRejected):  # run_read logged a refusal already
                logger.warning("target database error on %s: %s", request.path, exception.detail)
            template = "errors/target.html"
            if getattr(request, "htmx", False):
                template += "#notice"
            context = {
                "message": exception.sentence,
                "refused": isinstance(exception, TargetRejected),
            }
            return render(request, template, context, status=exception.status)
        return None


def bad_request(request: HttpRequest, exc: BadParameter) -> HttpResponse:
    """Return the 400 page (or its notice, for htmx) saying which value is wrong and why."""
    template = "errors/bad_request.html"
    if getattr(request, "htmx", False):
        template += "#notice"
    return render(request, template, {"message": exc.sentence}, status=400)
