"""Path converters for names the console does not choose: table names and end-user ids.

PostgreSQL allows any character but NUL in a quoted identifier, and an end-user id is whatever
the application stored, so both can hold `/`, `%`, `?`, `#`, spaces, quotes, line breaks or
any Unicode. Django's `str` converter refuses a `/` and `path` refuses a line break: reversing
such a name raised NoReverseMatch and broke every page that links to it.
"""

from __future__ import annotations

from urllib.parse import unquote


class SegmentConverter:
    """Any non-empty name as one path segment: `/` travels as `%2F` (and `%` as `%25`), so
    the routes after the name (`count/`, `row/`, `export.csv`) stay unambiguous."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        # reverse() percent-encodes the result once more, so the server decodes it back to
        # exactly this text, which to_python unquotes.
        return value.replace("%", "%25").replace("/", "%2F")


class AnythingConverter:
    """Any non-empty text, slashes and line breaks included (Django's `path` minus the
    line-break blind spot of `.`); for routes where nothing follows the name ambiguously."""

    regex = "[^\\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
