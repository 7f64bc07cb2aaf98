"""Logging filters: request paths in log lines never carry an end-user's identifier."""

from __future__ import annotations

import logging
import re

# Paths whose segments after these prefixes name an end-user (support view, scoped browsing).
USER_PATH = re.compile(r"(/users/(?:u|export|forget)/)[^?\s]+")
REDACTED = r"\1[redacted]"


def redact_path(text: str) -> str:
    """Return `text` with end-user identifiers in console paths replaced."""
    return USER_PATH.sub(REDACTED, text)


class RedactUserPaths(logging.Filter):
    """Redact end-user ids from request paths in `django.request` / `django.server` lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            # Formatters that print the request object use its path.
            record.request_path = redact_path(request.path)
        return True
