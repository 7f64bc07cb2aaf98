"""The 500 handler: a console database that does not answer is a 503 with a sentence.

Django turns any exception a view or a middleware lets escape (loading the session, the
operator, the page's own queries) into a call of this handler. When the exception says the
console's own database is unreachable, the page says so and answers 503; anything else is
still the 500 "Something went wrong" page. Neither shows a traceback.
"""

from __future__ import annotations

import logging
import sys

from django import db
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string

from core.engine import safe_error_text
from dashboard.connection_errors import connection_failure

logger = logging.getLogger(__name__)

CONSOLE_DATABASE_DOWN = (
    "The console's own database (DATABASE_URL) is not answering, so this page cannot be "
    "shown right now. Nothing needs to be done here: the console works again as soon as the "
    "database is back. Try again in a moment."
)
RETRY_AFTER_SECONDS = 5


def console_database_unreachable(exc: BaseException | None) -> bool:
    """Return True when `exc` is Django's database failing to connect or losing its connection."""
    if isinstance(exc, db.InterfaceError):
        return True  # "connection already closed"
    return isinstance(exc, db.OperationalError) and connection_failure(exc.__cause__) is not None


def console_database_down_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Return the 503 page (or its notice, for htmx) and log one line without a traceback."""
    # No path in the line: during an outage every request fails the same way, and the
    # repeated-lines filter then writes it once per interval.
    logger.warning("the console's database is unreachable: %s", safe_error_text(exc))
    template = "errors/console_database.html"
    if request.headers.get("HX-Request") == "true":
        template += "#notice"
    # Rendered without the request: the context processors would ask the database again.
    body = render_to_string(template, {"message": CONSOLE_DATABASE_DOWN})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Django would log it again, with the traceback (its private flag: django.utils.log).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 with a sentence when the console's database is down, else the 500 page."""
    exc = sys.exc_info()[1]
    if exc is not None and console_database_unreachable(exc):
        return console_database_down_response(request, exc)
    return HttpResponseServerError(render_to_string("500.html"))
