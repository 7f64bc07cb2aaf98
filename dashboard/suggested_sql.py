"""SQL text shown to operators: identifiers quoted where PostgreSQL needs it, schema-qualified.

Every statement the console suggests or prints (CREATE INDEX, DROP INDEX, GRANT, …) names its
tables, columns, indexes and roles through these functions, so that `user`, `order`, `"userId"`
or `Weird "Name"` come out as SQL that parses and runs where it is pasted, whatever the
search_path. A name stays bare only where PostgreSQL's own `quote_ident()` leaves it bare:
lower-case ASCII letters, digits and underscores, not starting with a digit, and not a keyword
other than an unreserved one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pglast.keywords import (
    COL_NAME_KEYWORDS,
    RESERVED_KEYWORDS,
    TYPE_FUNC_NAME_KEYWORDS,
    UNRESERVED_KEYWORDS,
)

_BARE = re.compile(r"[a-z_][a-z0-9_]*")
# Keywords that cannot stand as a bare name everywhere (reserved, column-name and
# type/function-name keywords); unreserved keywords can.
_NEEDS_QUOTES = (
    RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS
) - UNRESERVED_KEYWORDS


def quote_identifier(name: str) -> str:
    """Return `name` as a SQL identifier: bare when that is safe, else double-quoted."""
    if _BARE.fullmatch(name) and name not in _NEEDS_QUOTES:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, name: str) -> str:
    """Return `schema.name`, each part quoted where needed."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def create_index_sql(
    schema: str,
    table: str,
    columns: Iterable[str],
    *,
    concurrently: bool = True,
    function: str | None = None,
) -> str:
    """Return `CREATE INDEX [CONCURRENTLY] ON schema.table (columns)`, without a semicolon.

    With `function` (a built-in such as `lower`), each key is `function(column)`.
    """
    keys = [quote_identifier(column) for column in columns]
    if function:
        keys = [f"{function}({key})" for key in keys]
    keyword = "CREATE INDEX CONCURRENTLY" if concurrently else "CREATE INDEX"
    return f"{keyword} ON {qualified_name(schema, table)} ({', '.join(keys)})"


def drop_index_sql(schema: str, index: str) -> str:
    """Return `DROP INDEX CONCURRENTLY schema.index`, without a semicolon."""
    return f"DROP INDEX CONCURRENTLY {qualified_name(schema, index)}"


def quote_literal(value: str) -> str:
    """Return `value` as a SQL string literal: single quotes doubled, backslashes kept as they
    are (the statements that carry such literals run with standard_conforming_strings on)."""
    if "\x00" in value:
        raise ValueError("a SQL string cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"
