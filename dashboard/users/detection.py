"""Which table holds the end-users: the one named by USERS_TABLE, or a detected one.

Detection looks at tables whose name is a users-like word (users, accounts, customers,
members…, also as the last word of a prefixed name such as `auth_user` or `app_accounts`) and
picks the one referenced by foreign keys from the most other tables: the table everything
else hangs off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Table

from dashboard.users.links import foreign_key_links

USERS_WORDS = frozenset(
    {
        "user",
        "users",
        "account",
        "accounts",
        "customer",
        "customers",
        "member",
        "members",
        "person",
        "people",
        "profile",
        "profiles",
        "client",
        "clients",
    }
)


class UsersTableProblem(Exception):
    """No usable users table; `.sentence` says what to do."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


@dataclass(frozen=True)
class Candidate:
    """A table that could be the users table."""

    name: str
    referenced_by: tuple[str, ...]


@dataclass(frozen=True)
class UsersTable:
    """The users table, its key column, and how it was chosen."""

    name: str
    key: str
    source: str  # "setting" or "detected"
    referenced_by: tuple[str, ...]
    others: tuple[Candidate, ...] = ()

    @property
    def description(self) -> str:
        """Return e.g. `detected: users (referenced by 3 tables)`."""
        count = len(self.referenced_by)
        tables = "table" if count == 1 else "tables"
        how = "set by USERS_TABLE" if self.source == "setting" else "detected"
        return f"{how}: {self.name} (referenced by {count} {tables})"


def looks_like_users(name: str) -> bool:
    """Return True when the table's name (or its last word) is a users-like word."""
    lowered = name.lower()
    return lowered in USERS_WORDS or lowered.rsplit("_", 1)[-1] in USERS_WORDS


def referencing_tables(tables: Mapping[str, Table]) -> dict[str, tuple[str, ...]]:
    """Return, per table, the other tables that reference it with a foreign key."""
    found: dict[str, set[str]] = {}
    links, _skipped = foreign_key_links(tables)
    for link in links:
        if link.child != link.parent:
            found.setdefault(link.parent, set()).add(link.child)
    return {name: tuple(sorted(children)) for name, children in found.items()}


def single_key(table: Table) -> str | None:
    """Return the name of the table's one-column primary key, or None."""
    columns = list(table.primary_key.columns)
    return columns[0].name if len(columns) == 1 else None


def users_table(tables: Mapping[str, Table], configured: str = "") -> UsersTable:
    """Return the users table: `configured` if set, else the most referenced users-like table."""
    referenced = referencing_tables(tables)
    if configured:
        table = tables.get(configured)
        if table is None:
            raise UsersTableProblem(
                f"USERS_TABLE is set to “{configured}”, but there is no such table. "
                "Fix the setting, or leave it empty to detect the users table."
            )
        key = single_key(table)
        if key is None:
            raise UsersTableProblem(
                f"The users table “{configured}” needs a one-column primary key to identify "
                "a user; it has none (or a composite one)."
            )
        return UsersTable(configured, key, "setting", referenced.get(configured, ()))
    candidates = [
        Candidate(name, referenced.get(name, ()))
        for name, table in tables.items()
        if looks_like_users(name) and single_key(table) is not None
    ]
    if not candidates:
        raise UsersTableProblem(
            "No table looks like a users table (users, accounts, customers, members…). "
            "Set USERS_TABLE to the name of the table that holds your end-users."
        )
    # Most referenced first; on a tie, an exact word (users) beats a prefixed one (app_users).
    candidates.sort(
        key=lambda c: (-len(c.referenced_by), c.name.lower() not in USERS_WORDS, c.name)
    )
    best = candidates[0]
    return UsersTable(
        best.name,
        single_key(tables[best.name]) or "",
        "detected",
        best.referenced_by,
        tuple(candidates[1:]),
    )
