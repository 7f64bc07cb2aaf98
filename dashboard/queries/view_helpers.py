"""Helpers shared by the query performance views: roles held, part errors, history spans."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponse
from django.shortcuts import render

from dashboard.accounts.roles import ROLES, operator_role
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.target import TargetError

# The spans a history chart offers (a statement's calls and time, the Health page's trends).
HISTORY_SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "1h": timedelta(hours=1)}


def roles_held(request: HtmxHttpRequest) -> set[str]:
    """Return every role the operator holds (one database read per request)."""
    held = operator_role(request.user)
    return set(ROLES[: ROLES.index(held) + 1]) if held else set()


def part_error(request: HtmxHttpRequest, partial: str, exc: TargetError) -> HttpResponse:
    """Return the page part with the database's sentence (htmx), or let the page say it."""
    if not request.htmx:
        raise exc
    return render(request, partial, {"target_error": exc.sentence}, status=exc.status)
