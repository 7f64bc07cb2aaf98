"""Ownership paths: for every table, how its rows lead to one row of the users table.

A path is a chain of links (foreign keys, or USER_LINKS entries) from the table to the users
table: `tasks.user_id → users.id` is direct, `order_items.order_id → orders.id`,
`orders.account_id → accounts.id` goes through another table. Where a table has several
paths, the shortest is used; on a tie, real foreign keys beat configured links, and owner-like
column names (`user_id`, `owner_id`…) beat others. The other paths are listed.

The map is computed from the reflected metadata and a few catalog facts, and cached until the
schema's fingerprint (or the settings) change.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from sqlalchemy import CTE, Column, ColumnElement, Table, Text, cast, false, select

from dashboard.data.columns import type_label
from dashboard.params import BadParameter, integer, integer_range, text, uuid_value
from dashboard.schema.reflection import Reflection, reflection
from dashboard.suggested_sql import (
    create_index_sql,
    qualified_name,
    quote_identifier,
    quote_literal,
)
from dashboard.target import run_read
from dashboard.users.catalog import SchemaFacts, schema_facts
from dashboard.users.detection import UsersTable, users_table
from dashboard.users.links import Link, SkippedLink, foreign_key_links, setting_links

MAX_HOPS = 4
MAX_ALTERNATIVES = 5
OWNER_COLUMN_NAMES = ("user_id", "owner_id", "account_id", "customer_id", "member_id")


@dataclass(frozen=True)
class OwnershipPath:
    """The chain of links from `table` to the users table (empty for the users table)."""

    table: str
    links: tuple[Link, ...]

    @property
    def arrow(self) -> str:
        """Return e.g. `messages → conversations → users`."""
        return " → ".join([self.table, *(link.parent for link in self.links)])

    @property
    def detail(self) -> str:
        """Return the columns of each step, e.g. `tasks.user_id → users.id`."""
        return ", ".join(link.label for link in self.links)

    @property
    def hops(self) -> int:
        return len(self.links)

    @property
    def is_direct(self) -> bool:
        return len(self.links) == 1

    @property
    def uses_setting(self) -> bool:
        return any(not link.is_foreign_key for link in self.links)

    @property
    def owner_column(self) -> str:
        """Return the column of this table that leads to the owner ('' for the users table)."""
        return self.links[0].child_column if self.links else ""


@dataclass(frozen=True)
class TableOwnership:
    """How one table's rows belong to a user: the path used and the other paths."""

    table: str
    path: OwnershipPath
    alternatives: tuple[OwnershipPath, ...] = ()


@dataclass(frozen=True)
class MissingIndex:
    """An owner column no index starts with, and the statement that adds one."""

    link: Link
    create_sql: str

    @property
    def label(self) -> str:
        return self.link.label


@dataclass
class OwnershipMap:
    """The users table, each owned table's path, and what could not be linked."""

    users: UsersTable
    tables: dict[str, Table]
    owned: dict[str, TableOwnership]  # users table first, then by hops and name
    unlinked: list[str]
    skipped: list[SkippedLink]
    problems: list[str]  # USER_LINKS entries that were ignored, as sentences
    facts: SchemaFacts = field(default_factory=SchemaFacts)
    # What is worked out from this map once and reused (statements, per-table choices): the
    # map lives as long as the schema version.
    statements: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def users_table(self) -> Table:
        return self.tables[self.users.name]

    @property
    def key_column(self) -> Column:
        return self.users_table.c[self.users.key]

    def ownership_of(self, table: str) -> TableOwnership | None:
        return self.owned.get(table)

    def owner_columns(self) -> frozenset[tuple[str, str]]:
        """Return the (table, column) pairs the ownership paths follow: the columns whose
        index the isolation report asks for."""
        return frozenset(
            (link.child, link.child_column)
            for ownership in self.owned.values()
            for link in ownership.path.links
        )

    def unindexed_links(self, path: OwnershipPath) -> list[Link]:
        """Return the links of `path` whose owner column is not the first key of an index."""
        return [
            link
            for link in path.links
            if self.facts.leading_index(link.child, link.child_column) is None
        ]

    def missing_indexes(self, path: OwnershipPath) -> list[MissingIndex]:
        """Return the unindexed links of `path`, each with the statement that indexes it."""
        return [
            MissingIndex(
                link,
                create_index_sql(
                    str(self.tables[link.child].schema), link.child, [link.child_column]
                ),
            )
            for link in self.unindexed_links(path)
        ]


def _rank(path: OwnershipPath) -> tuple[object, ...]:
    setting_hops = sum(1 for link in path.links if not link.is_foreign_key)
    unusual_names = sum(1 for link in path.links if link.child_column not in OWNER_COLUMN_NAMES)
    return (path.hops, setting_hops, unusual_names, path.detail)


def ownership_paths(
    tables: Mapping[str, Table], users: str, links: list[Link]
) -> tuple[dict[str, TableOwnership], list[str]]:
    """Return each table's ownership (best path and alternatives) and the unlinked tables."""
    outgoing: dict[str, list[Link]] = {}
    incoming: dict[str, list[Link]] = {}
    for link in links:
        if link.child == link.parent:
            continue  # a self-reference (parent task, manager) never leads to a user
        outgoing.setdefault(link.child, []).append(link)
        incoming.setdefault(link.parent, []).append(link)
    # Hops from each table to the users table (breadth-first from users, against the links).
    distance = {users: 0}
    queue = deque([users])
    while queue:
        parent = queue.popleft()
        for link in incoming.get(parent, []):
            if link.child not in distance:
                distance[link.child] = distance[parent] + 1
                queue.append(link.child)

    owned: dict[str, TableOwnership] = {users: TableOwnership(users, OwnershipPath(users, ()))}
    unlinked = []
    for name in sorted(tables):
        if name == users:
            continue
        if distance.get(name, MAX_HOPS + 1) > MAX_HOPS:
            unlinked.append(name)
            continue
        paths = _paths_to_users(name, users, outgoing, distance)
        paths.sort(key=_rank)
        owned[name] = TableOwnership(name, paths[0], tuple(paths[1 : 1 + MAX_ALTERNATIVES]))
    ordered = dict(sorted(owned.items(), key=lambda item: (item[1].path.hops, item[0])))
    return ordered, unlinked


def _paths_to_users(
    start: str, users: str, outgoing: dict[str, list[Link]], distance: dict[str, int]
) -> list[OwnershipPath]:
    """Return the simple paths from `start` to `users` of at most MAX_HOPS links, shortest first."""
    found: list[OwnershipPath] = []
    queue: deque[tuple[str, tuple[Link, ...]]] = deque([(start, ())])
    while queue and len(found) < 4 * MAX_ALTERNATIVES:
        table, so_far = queue.popleft()
        for link in outgoing.get(table, []):
            if link.parent == users:
                found.append(OwnershipPath(start, (*so_far, link)))
                continue
            visited = {start, *(step.parent for step in so_far)}
            # Only follow links that can still reach the users table within MAX_HOPS.
            if link.parent in visited or link.parent not in distance:
                continue
            if len(so_far) + 1 + distance[link.parent] > MAX_HOPS:
                continue
            queue.append((link.parent, (*so_far, link)))
    return found


# -- the cached map for the current schema and settings ---------------------------------------
_lock = threading.Lock()
_cache: dict[tuple[str, str, str], OwnershipMap] = {}


def ownership_map(current: Reflection | None = None) -> OwnershipMap:
    """Return the ownership map of the target schema (raises UsersTableProblem if no users).

    `current` is a reflection the caller already holds, so that its page and the map describe
    the same schema (and the fingerprint is not checked twice)."""
    current = current or reflection()
    configured = str(getattr(settings, "USERS_TABLE", "") or "")
    entries = getattr(settings, "USER_LINKS", {}) or {}
    key = (current.fingerprint, configured, json.dumps(entries, sort_keys=True, default=str))
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    facts = run_read(lambda conn: schema_facts(conn, current.schema))
    partitions = facts.partitions()
    tables = {name: table for name, table in current.tables.items() if name not in partitions}
    users = users_table(tables, configured)
    fk_links, skipped = foreign_key_links(tables)
    configured_links, problems = setting_links(entries, tables, users.name, users.key)
    owned, unlinked = ownership_paths(tables, users.name, fk_links + configured_links)
    result = OwnershipMap(users, tables, owned, unlinked, skipped, problems, facts)
    with _lock:
        _cache.clear()  # one schema at a time: an old fingerprint is never asked again
        _cache[key] = result
    return result


def forget_ownership_map() -> None:
    """Drop the cached map (tests that change settings or the schema)."""
    with _lock:
        _cache.clear()


# -- turning a path into SQL ------------------------------------------------------------------
class NotAUserKey(ValueError):
    """The text cannot be a value of the users table's key (e.g. letters for a bigint)."""


def coerce_key(column: Column, raw: str) -> object:
    """Return `raw` converted to the Python type of the users' key column (an integer within
    the column type's range, a UUID), or raise NotAUserKey."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return raw
    try:
        if python_type is int:
            low, high = integer_range(type_label(column))
            return integer(raw, column.name, minimum=low, maximum=high)
        if python_type is uuid.UUID:
            return uuid_value(raw, column.name)
        return text(raw, column.name)
    except BadParameter as exc:
        raise NotAUserKey(raw) from exc


def same_type(one: Column, other: Column) -> bool:
    """Return True when both columns hold the same Python type (so they compare directly)."""
    try:
        return one.type.python_type is other.type.python_type
    except NotImplementedError:
        return False


def rows_of_user(
    owners: OwnershipMap, path: OwnershipPath, key_value: object, table: Table | None = None
) -> ColumnElement:
    """Return the WHERE clause that keeps the rows of `path.table` owned by user `key_value`.

    Each step further from the users table becomes `column IN (SELECT parent_column FROM parent
    WHERE …)`, which Postgres runs as a semi-join using the index on each owner column. `table`
    is the Table object the caller selects from (default: the map's own), so that the clause
    refers to the very object in the caller's FROM.
    """
    tables = owners.tables
    outer = table if table is not None else tables[path.table]
    if not path.links:
        return outer.c[owners.users.key] == key_value
    link = path.links[0]
    child_column = outer.c[link.child_column]
    parent_column = tables[link.parent].c[link.parent_column]
    rest = OwnershipPath(link.parent, path.links[1:])
    if not rest.links and link.parent_column == owners.users.key:
        # Straight into the users' key: compare with the value itself, so that rows left by
        # a deleted user still match (and the index on the owner column is used).
        if link.is_foreign_key or same_type(child_column, owners.key_column):
            return child_column == key_value
        # A configured link may hold the key in another type (a text actor_id for a bigint
        # id): convert the value in Python; a value the column cannot hold matches nothing.
        try:
            return child_column == coerce_key(child_column, str(key_value))
        except NotAUserKey:
            return false()
    if not link.is_foreign_key and not same_type(child_column, parent_column):
        # Different types deeper in the path: compare as text, which is always right (if
        # slower: the owner column's index is not used), where a cast could fail.
        parent_values = select(cast(parent_column, Text)).where(
            rows_of_user(owners, rest, key_value)
        )
        return cast(child_column, Text).in_(parent_values)
    return child_column.in_(select(parent_column).where(rows_of_user(owners, rest, key_value)))


def rows_of_user_sql(
    owners: OwnershipMap, path: OwnershipPath, subject: str, ref: Callable[[str], str]
) -> str:
    """Return the ownership predicate of `path` as SQL text, for statements shown to people.

    The same rule as rows_of_user: `ref(column)` names a column of `path.table` (a bare column
    in an UPDATE or DELETE, or the new row's typed literal in an INSERT); each step further from
    the users table is `column IN (SELECT ... FROM parent AS pN WHERE ...)`; a configured link
    between columns of different types compares as text.
    """
    literal = quote_literal(subject)
    if not path.links:
        return f"{ref(owners.users.key)} = {literal}"
    link = path.links[0]
    child = owners.tables[link.child].c[link.child_column]
    parent = owners.tables[link.parent].c[link.parent_column]
    if len(path.links) == 1 and link.parent_column == owners.users.key:
        as_text = not link.is_foreign_key and not same_type(child, owners.key_column)
        left = f"{ref(link.child_column)}::text" if as_text else ref(link.child_column)
        return f"{left} = {literal}"
    alias = f"p{len(path.links)}"
    rest = OwnershipPath(link.parent, path.links[1:])
    inner = rows_of_user_sql(
        owners, rest, subject, lambda name: f"{alias}.{quote_identifier(name)}"
    )
    as_text = not link.is_foreign_key and not same_type(child, parent)
    left = f"{ref(link.child_column)}::text" if as_text else ref(link.child_column)
    selected = f"{alias}.{quote_identifier(link.parent_column)}" + ("::text" if as_text else "")
    source = qualified_name(str(owners.tables[link.parent].schema), link.parent)
    return f"{left} IN (SELECT {selected} FROM {source} AS {alias} WHERE {inner})"


def rows_of_user_shared(
    owners: OwnershipMap,
    path: OwnershipPath,
    key_value: object,
    shared: dict[tuple[str, str], CTE],
) -> ColumnElement:
    """Return `rows_of_user` for one of many tables counted in one statement (foreign-key
    paths only): each table further up a path is read once, into a materialized CTE of the
    user's keys of it (`shared`, filled here) that every table below it uses. Planning one
    statement over hundreds of tables took twice as long with a subquery at every step."""
    table = owners.tables[path.table]
    if not path.links:
        return table.c[owners.users.key] == key_value
    link = path.links[0]
    rest = OwnershipPath(link.parent, path.links[1:])
    if not rest.links and link.parent_column == owners.users.key:
        return table.c[link.child_column] == key_value
    keys = _owned_keys(owners, rest, link.parent_column, key_value, shared)
    return table.c[link.child_column].in_(select(keys.c[link.parent_column]))


def _owned_keys(
    owners: OwnershipMap,
    path: OwnershipPath,
    column: str,
    key_value: object,
    shared: dict[tuple[str, str], CTE],
) -> CTE:
    """Return the CTE of `column` of the user's rows of `path.table` (made once per statement)."""
    made = shared.get((path.table, column))
    if made is None:
        table = owners.tables[path.table]
        condition = rows_of_user_shared(owners, path, key_value, shared)
        made = (
            select(table.c[column])
            .where(condition)
            .cte(f"owned_{len(shared)}")
            .prefix_with("MATERIALIZED")
        )
        shared[(path.table, column)] = made
    return made
