"""Operator roles: viewer < support < engineer < admin, stored as Django groups.

Deny by default: every view declares the role it needs with `role_required`, or is marked
`public` (login, logout, the health check). `dashboard.middleware.RoleRequiredMiddleware`
refuses any view that declares neither, so a forgotten declaration is a 403, never an open page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

ROLES = ("viewer", "support", "engineer", "admin")
# Rows of the application's tables are end-users' data: support and above (security model).
ROWS_ROLE = "support"
ROLE_DESCRIPTIONS = {
    "viewer": "schema, migration history and query statistics",
    "support": "end-users' data (table rows, one end-user's page and exports), with a reason",
    "engineer": "branches, EXPLAIN ANALYZE and migration trial runs",
    "admin": (
        "reset statistics, cancel or terminate backends, apply migrations and change "
        "end-users' rows, where enabled"
    ),
}


def operator_role(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """Return the highest role of a logged-in operator, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if not isinstance(user, PermissionsMixin):  # roles are groups, held by a user model's mixin
        return None
    if user.is_superuser:
        return "admin"
    # Cached on the user object, which lives for one request: the navigation asks per section.
    cached = getattr(user, "_operator_role", False)
    if cached is None or isinstance(cached, str):
        return cached
    names = set(user.groups.values_list("name", flat=True))
    held = [role for role in ROLES if role in names]
    role = held[-1] if held else None
    setattr(user, "_operator_role", role)  # noqa: B010 - a cache on the request's user object
    return role


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    """Return True when the operator holds `role` or a higher one."""
    held = operator_role(user)
    return held is not None and ROLES.index(held) >= ROLES.index(role)


def forbidden(request: HttpRequest, role: str | None) -> HttpResponse:
    """Return the 403 page saying which role is needed (None: the page declares none).

    An htmx request gets the notice alone. A GET also gets `HX-Refresh`: the page that asked
    for the part has the part's role (one URL, one view), so the browser reloads it and shows
    the refusal in place of what it polled (htmx swaps nothing on a 403). A POST does not: a
    reload would hide the refusal behind the page the operator may still see.
    """
    context = {"role": role, "allows": ROLE_DESCRIPTIONS.get(role or "", "")}
    if getattr(request, "htmx", False):
        response = render(request, "errors/forbidden.html#notice", context, status=403)
        if request.method in ("GET", "HEAD"):
            response["HX-Refresh"] = "true"
        return response
    return render(request, "errors/forbidden.html", context, status=403)


View = Callable[..., HttpResponseBase]


def public(view: View) -> View:
    """Mark a view as open to anyone, logged in or not (login, logout, the health check)."""
    view.public = True  # type: ignore[attr-defined]  # a mark LoginRequiredMiddleware reads
    return view


def role_required(role: str) -> Callable[[View], View]:
    """Decorate a view so that only operators with `role` or above reach it (else 403)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if has_role(request.user, role):
                return view(request, *args, **kwargs)
            return forbidden(request, role)

        wrapped.required_role = role  # type: ignore[attr-defined]  # read by the middleware
        return wrapped

    return decorate
