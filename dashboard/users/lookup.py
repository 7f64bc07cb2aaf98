"""Finding an end-user: by id, by email (exact, case-insensitive), by a prefix of either, or
by name (when the users table has a name-like column).

Every search is bounded (at most MAX_MATCHES rows) and designed for the indexes a users table
usually has: the primary key and a plain unique index on `email`.

- An exact id is a primary-key lookup.
- An exact email is first looked up as typed and lowercased (`email IN (:typed, :lowered)`,
  which uses a plain index on `email`). Only if that finds nothing, and no index on
  `lower(email)` exists, does it fall back to `lower(email) = lower(:typed)`: a scan, run with a
  short statement timeout, and the page says so (with the index that would fix it). With an
  index on `lower(email)` that index is used directly.
- A prefix is `LIKE 'abc%'`, which Postgres runs as an index range scan when the index's
  collation is "C"/POSIX or it uses a `text_pattern_ops` operator class; otherwise it scans,
  with the timeout, and the page says so.
- A name matches, case-insensitively, when it or one of its words starts with the text
  (`Erin` and `smith` both find "Erin Smith"). Names are rarely indexed for that, so it is a
  scan bounded by the timeout, tried only when nothing matched by id or email.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from sqlalchemy import Column, Connection, Select, func, or_, select

from dashboard.suggested_sql import create_index_sql
from dashboard.target import run_read
from dashboard.users.bounded import in_savepoint
from dashboard.users.ownership import NotAUserKey, OwnershipMap, coerce_key

MAX_MATCHES = 20
EMAIL_COLUMNS = ("email", "email_address", "mail")
NAME_COLUMNS = ("name", "full_name", "display_name", "username")
CREATED_COLUMNS = ("created_at", "created", "date_joined", "inserted_at", "signed_up_at")


@dataclass(frozen=True)
class UserMatch:
    """One user found by a search, with what identifies them to a person."""

    key: str
    email: str = ""
    name: str = ""
    created_at: str = ""
    matched: str = ""  # "id", "email", "id prefix", "email prefix", "name"


@dataclass
class Lookup:
    """The result of one search: the users found, and notes on how they were found."""

    query: str
    matches: list[UserMatch] = field(default_factory=list)
    exact: bool = False
    more: bool = False  # the prefix matched more users than shown
    notes: list[str] = field(default_factory=list)
    suggested_sql: list[str] = field(default_factory=list)  # statements the notes recommend


def first_column(table, names: tuple[str, ...]) -> Column | None:
    """Return the first column of `table` among `names`, or None."""
    for name in names:
        if name in table.c:
            return table.c[name]
    return None


def is_text(column: Column) -> bool:
    try:
        return column.type.python_type is str
    except NotImplementedError:
        return False


def like_prefix(text: str) -> str:
    """Return a LIKE pattern matching values that start with `text` (wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def find_users(owners: OwnershipMap, query: str) -> Lookup:
    """Return the users whose id or email is `query`, else those whose id, email or name
    starts with it."""
    query = query.strip()
    result = Lookup(query)
    if not query:
        return result
    users = owners.users_table
    key = owners.key_column
    email = first_column(users, EMAIL_COLUMNS)
    name = first_column(users, NAME_COLUMNS)
    shown = [
        column
        for column in (key, email, name, first_column(users, CREATED_COLUMNS))
        if column is not None
    ]
    timeout_ms = int(settings.SUPPORT_COUNT_TIMEOUT_MS)

    def fetch(conn: Connection, statement: Select, matched: str) -> list[UserMatch]:
        rows = conn.execute(statement.limit(MAX_MATCHES + 1)).mappings().all()
        return [_match(row, key, email, shown, matched) for row in rows]

    def bounded(conn: Connection, statement: Select, matched: str) -> list[UserMatch] | None:
        """Fetch inside a savepoint; None when it ran past the timeout."""
        return in_savepoint(conn, lambda c: fetch(c, statement, matched)).value

    def work(conn: Connection) -> Lookup:
        base = select(*shown)
        try:
            key_value = coerce_key(key, query)
        except NotAUserKey:
            key_value = None
        if key_value is not None:
            result.matches = fetch(conn, base.where(key == key_value), "id")
        if not result.matches and email is not None and "@" in query:
            result.matches = _exact_email(conn, owners, base, email, query, fetch, bounded, result)
        if result.matches:
            result.exact = True
            return result
        found: dict[str, UserMatch] = {}
        for column, matched in ((key, "id prefix"), (email, "email prefix")):
            if column is None or not is_text(column):
                continue
            patterns = {like_prefix(query), like_prefix(query.lower())}
            statement = base.where(or_(*(column.like(p) for p in sorted(patterns))))
            statement = statement.order_by(column)
            searchable = _prefix_indexed(owners, column)
            rows = fetch(conn, statement, matched) if searchable else None
            if not searchable:
                result.notes.append(
                    f"No index on {users.name}.{column.name} can serve a prefix search "
                    f"(it needs the “C” collation or text_pattern_ops), so it scanned the table "
                    f"for up to {timeout_ms} ms."
                )
                rows = bounded(conn, statement, matched)
                if rows is None:
                    result.notes.append(f"The prefix search on {column.name} timed out.")
                    continue
            for match in rows or []:
                found.setdefault(match.key, match)
        if name is not None and is_text(name) and len(found) <= MAX_MATCHES:
            statement = base.where(
                or_(name.ilike(like_prefix(query)), name.ilike("% " + like_prefix(query)))
            ).order_by(name, key)
            rows = bounded(conn, statement, "name")
            if rows is None:
                result.notes.append(f"The search by {column_label(users, name)} timed out.")
            for match in rows or []:
                found.setdefault(match.key, match)
        ordered = sorted(found.values(), key=lambda m: m.key)
        result.more = len(ordered) > MAX_MATCHES
        result.matches = ordered[:MAX_MATCHES]
        return result

    return run_read(work, timeout_ms=timeout_ms)


def column_label(table, column: Column) -> str:
    return f"{table.name}.{column.name}"


def _exact_email(conn, owners, base, email, query, fetch, bounded, result) -> list[UserMatch]:
    users = owners.users_table
    lowered_index = _lower_email_indexed(owners, email)
    if lowered_index:
        return fetch(conn, base.where(func.lower(email) == query.lower()), "email")
    matches = fetch(conn, base.where(email.in_(sorted({query, query.lower()}))), "email")
    if matches:
        return matches
    # Not stored as typed nor lowercased: only a case-insensitive scan can tell.
    matches = bounded(conn, base.where(func.lower(email) == query.lower()), "email")
    result.notes.append(
        f"There is no index on lower({email.name}), so the case-insensitive email match "
        f"scanned {users.name}. This index makes it fast:"
    )
    result.suggested_sql.append(
        create_index_sql(str(users.schema), users.name, [email.name], function="lower")
    )
    if matches is None:
        result.notes.append("The case-insensitive email match timed out.")
        return []
    return matches


def _lower_email_indexed(owners: OwnershipMap, email: Column) -> bool:
    name = owners.users.name
    return any(
        index.valid and index.key in (f"lower({email.name})", f"lower({email.name}::text)")
        for index in owners.facts.index_keys.get(name, [])
    )


def _prefix_indexed(owners: OwnershipMap, column: Column) -> bool:
    index = owners.facts.leading_index(owners.users.name, column.name)
    return index is not None and index.prefix_searchable


def _match(row, key: Column, email: Column | None, shown: list[Column], matched: str) -> UserMatch:
    values = {column.name: row[column.name] for column in shown}
    extra = [column for column in shown if column is not key and column is not email]
    name = next((c for c in extra if c.name in NAME_COLUMNS), None)
    created = next((c for c in extra if c.name in CREATED_COLUMNS), None)
    created_value = values.get(created.name) if created is not None else None
    return UserMatch(
        key=str(values[key.name]),
        email=str(values[email.name] or "") if email is not None else "",
        name=str(values[name.name] or "") if name is not None else "",
        created_at=created_value.isoformat(sep=" ", timespec="minutes")
        if isinstance(created_value, datetime)
        else str(created_value or ""),
        matched=matched,
    )
