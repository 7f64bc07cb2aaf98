"""One rule for every log line the console writes: no end-user id, no password, no control
character.

End-user ids travel in the paths of the user pages (`/users/u/<id>/`, `/users/export/<id>/`,
`/users/forget/<id>/`). Everything after such a prefix becomes `[redacted]`, wherever the path
is logged: Django's request lines, runserver's, gunicorn's access log (whose logger class is
below) and any other message. Control characters are escaped (`\\n`, `\\r`, `\\x1b`…), so a
`%0A` in a requested path cannot start a forged line; tracebacks keep their line breaks, indented
so that no continuation line looks like a new record.

Django's handler and gunicorn's handlers all format through `ScrubbingFormatter`; the filter and
gunicorn's atoms apply the same rule earlier where the whole path is known (an id may hold
spaces, which the free-text rule stops at). A database's message is logged through
`redact_values`: the values it quotes may be what an operator typed, an end-user's data.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, urlsplit, urlunsplit

from gunicorn import glogging

from core.engine import mask_passwords
from dashboard.connection_errors import ConnectionErrorsInOneLine

USER_PATH_PREFIX = r"/users/(?:u|export|forget)/"
REDACTED = "[redacted]"
# In a value known to be a path: everything after the prefix is the id (and what follows it).
_PATH_ID = re.compile(f"({USER_PATH_PREFIX}).+", re.DOTALL)
# In free text: up to the next blank, quote, query or fragment.
_TEXT_ID = re.compile(f"({USER_PATH_PREFIX})[^\\s\"'?#]+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What stays readable in a logged path; everything else (controls, quotes, blanks) is %-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~[]"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def escape_controls(text: str) -> str:
    """Return `text` with every control character written as an escape, on one line."""
    return _CONTROL.sub(_escape, text)


def redact_path(path: str) -> str:
    """Return a request path with the end-user id of a user page replaced by [redacted]."""
    return _PATH_ID.sub(rf"\1{REDACTED}", path)


def redact_text(text: str) -> str:
    """Return free text with end-user ids in user-page paths replaced by [redacted]."""
    return _TEXT_ID.sub(rf"\1{REDACTED}", text)


# Values PostgreSQL quotes in its messages ('invalid input syntax for type uuid: "…"', 'value
# "…" is out of range for type integer'); identifiers it quotes go too, the SQLSTATE remains.
QUOTED_VALUE = re.compile(r'"(?:[^"]|"")*"')


def redact_values(text: str) -> str:
    """Return a database message with the quoted values in it replaced (for a log line)."""
    return QUOTED_VALUE.sub('"…"', text)


def scrub(text: str) -> str:
    """Return one log line's text: ids redacted, passwords masked (a URL quoted in an error
    message or a traceback), control characters escaped."""
    return escape_controls(mask_passwords(redact_text(text)))


def access_log_path(path: str) -> str:
    """Return a WSGI PATH_INFO (latin-1 text of the raw bytes) as logged: redacted, %-encoded."""
    raw = redact_path(path).encode("latin-1", errors="replace")
    return quote(raw, safe=_PATH_SAFE)


class ScrubbingFormatter(logging.Formatter):
    """A Formatter whose every line is scrubbed; tracebacks stay multi-line but indented."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = scrub(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            lines = block.rstrip("\n").split("\n")
            text += "".join("\n    " + scrub(line) for line in lines)
        return text


class RedactUserPaths(logging.Filter):
    """Redact the request's path where a record carries it as an argument (Django's request
    lines), before the formatter's free-text rule, which would stop at a blank in the id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        paths = {getattr(request, "path", None), getattr(request, "path_info", None)} - {None}
        if isinstance(record.args, tuple) and paths:
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) and arg in paths else arg
                for arg in record.args
            )
        if request is not None and hasattr(request, "path"):
            # Formatters that print the request object use its path.
            record.request_path = redact_path(request.path)
        return True


class RedactingGunicornLogger(glogging.Logger):
    """gunicorn's logger with the console's rule: user ids out of the access log's path,
    query string and referer; every error and access line formatted by ScrubbingFormatter."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        # A request cut by the database going away (a stream) is one line, not a traceback.
        self.error_log.addFilter(ConnectionErrorsInOneLine())
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                current = handler.formatter
                handler.setFormatter(
                    ScrubbingFormatter(
                        current._fmt if current else None, current.datefmt if current else None
                    )
                )

    def atoms(self, resp, req, environ, request_time) -> dict[str, str]:
        atoms = super().atoms(resp, req, environ, request_time)
        path = access_log_path(environ.get("PATH_INFO", ""))
        atoms["U"] = path
        # Query strings hold end-user ids too (?scope_user=, ?q=): never logged.
        atoms["q"] = ""
        atoms["r"] = f"{atoms.get('m', '-')} {path} {atoms.get('H', '-')}"
        referer = atoms.get("f", "-")
        if referer and referer != "-":
            parts = urlsplit(referer)
            atoms["f"] = urlunsplit(
                (parts.scheme, parts.netloc, access_log_path(parts.path), "", "")
            )
        return atoms
