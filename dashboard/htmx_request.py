"""The request every view gets: django-htmx's middleware has set `request.htmx` on it."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An HttpRequest as HtmxMiddleware leaves it (for the type checker; never instantiated)."""

    htmx: HtmxDetails
