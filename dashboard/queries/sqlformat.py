"""SQL text for people and for EXPLAIN: pretty-printing (pglast), highlighting, `$n` parameters."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pglast import parser, prettify
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PostgresLexer

# Plain text, not a class: the highlighter's CSS classes are styled in static/css/queries.css.
_FORMATTER = HtmlFormatter(nowrap=True)
_LEXER = PostgresLexer()
_PARAM = re.compile(r"\$(\d+)")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FormattedSQL:
    """A statement's text laid out for reading; `pretty` is False when it did not parse."""

    text: str
    pretty: bool


@functools.lru_cache(maxsize=4096)
def format_sql(query: str) -> FormattedSQL:
    """Return the statement pretty-printed by pglast, or the raw text if pglast cannot parse it."""
    try:
        return FormattedSQL(prettify(query, safety_belt=False), True)
    except Exception:  # pglast raises several error types; the raw text is always a fine answer
        return FormattedSQL(query.strip(), False)


@functools.lru_cache(maxsize=4096)
def highlight_sql(text: str) -> SafeString:
    """Return `text` as HTML with token classes (no inline styles, so the CSP allows it)."""
    if len(text) > 100_000:
        return mark_safe(escape(text))  # noqa: S308 -- escaped just above
    return mark_safe(highlight(text, _LEXER, _FORMATTER))  # noqa: S308 -- pygments escapes


def one_line(query: str, limit: int = 300) -> str:
    """Return the statement on one line, whitespace collapsed, cut to `limit` characters."""
    flat = _WHITESPACE.sub(" ", query).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def statement_label(query: str, limit: int = 90) -> str:
    """Return how lists and titles name a statement: its SQL on one line, cut short (people
    read SQL; nobody recognises a 19-digit query id)."""
    return one_line(query, limit) or "(text not available)"


def _param_tokens(query: str) -> list[tuple[int, int, int]]:
    """Return (start, end exclusive, number) of each `$n` token, ignoring ones inside strings."""
    try:
        tokens = parser.scan(query)
    except Exception:
        # The scanner refuses some texts (e.g. cut short); a plain search is the fallback.
        return [(m.start(), m.end(), int(m.group(1))) for m in _PARAM.finditer(query)]
    found = []
    for token in tokens:
        if token.name == "PARAM":
            found.append((token.start, token.end + 1, int(query[token.start + 1 : token.end + 1])))
    return found


def parameter_numbers(query: str) -> list[int]:
    """Return the distinct `$n` parameter numbers of a statement, in order."""
    return sorted({number for _, _, number in _param_tokens(query)})


def bind_literals(query: str, literals: Mapping[int, str]) -> str:
    """Return the statement with each `$n` replaced by `literals[n]` (already quoted SQL)."""
    pieces = []
    position = 0
    for start, end, number in _param_tokens(query):
        pieces.append(query[position:start])
        pieces.append(literals[number])
        position = end
    pieces.append(query[position:])
    return "".join(pieces)


# `PASSWORD '…'` in CREATE/ALTER ROLE (also ENCRYPTED, and a SCRAM verifier): pg_stat_statements
# and pg_stat_activity keep utility statements' literals as sent, so role set-up shows passwords.
_PASSWORD_LITERAL = re.compile(
    r"(\bPASSWORD\s+)(?:E?'(?:[^']|'')*'?|\$\w*\$.*?\$\w*\$)", re.I | re.S
)
REDACTED_LITERAL = "'[redacted]'"


def without_passwords(query: str) -> str:
    """Return the statement with every password literal replaced (never shown to anyone)."""
    return _PASSWORD_LITERAL.sub(lambda match: match.group(1) + REDACTED_LITERAL, query)


# Statements pg_stat_statements stores with their constants as `$n` (the optimizable ones).
NORMALIZED_BY_PG_STAT_STATEMENTS = (
    "SelectStmt",
    "InsertStmt",
    "UpdateStmt",
    "DeleteStmt",
    "MergeStmt",
)


def recorded_text(query: str) -> str:
    """Return a pg_stat_statements text as the console shows and keeps it (pages, snapshots).

    pg_stat_statements replaces the constants of SELECT, INSERT, UPDATE, DELETE and MERGE by
    `$n`, but keeps the text of other statements as it was sent (before PostgreSQL 16, and
    partly after): `EXPLAIN … WHERE email = 'someone@example.com'` (the console's own EXPLAIN,
    with the values an operator typed), `COPY (SELECT …)`, `DECLARE … CURSOR`, `SET …`, a role's
    password. Their constants are end-users' data or secrets, and nobody can explain such a
    statement here: they are replaced by `$n` as well (passwords first, even in a text that
    does not parse).
    """
    shown = without_passwords(query)
    try:
        stmts = json.loads(parser.parse_sql_json(shown)).get("stmts", [])
    except Exception:  # pglast raises several error types: mask lexically
        return normalized_text(shown)
    kinds = [next(iter(stmt.get("stmt", {"?": None}))) for stmt in stmts]
    if kinds and all(kind in NORMALIZED_BY_PG_STAT_STATEMENTS for kind in kinds):
        return shown
    return normalized_text(shown)


def normalized_text(query: str) -> str:
    """Return the statement with its constants replaced by `$n` (for showing live queries).

    Used where a viewer must not see the values an application sent (they may be personal data).
    When the text does not parse (e.g. cut at track_activity_query_size), quoted strings and
    numbers are masked lexically instead.
    """
    try:
        return parser.normalize(query)
    except Exception:
        masked = re.sub(r"'(?:[^']|'')*'?", "'?'", query)
        return re.sub(r"(?<![\w$])\d+(?:\.\d+)?", "?", masked)
