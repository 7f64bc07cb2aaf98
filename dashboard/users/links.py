"""Links between tables of the target schema: foreign keys, and links configured in USER_LINKS.

A link says "the value of `child.child_column` is a value of `parent.parent_column`". Foreign
keys come from the reflected metadata; tables that point at users without a foreign key (an
audit log keyed by `actor_id`, a table in a legacy schema) are linked through the
`USER_LINKS` setting. Composite foreign keys are not followed (they are listed as skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.exc import NoReferencedColumnError, NoReferencedTableError

FOREIGN_KEY = "foreign key"
SETTING = "USER_LINKS"


@dataclass(frozen=True)
class Link:
    """One step from a row of `child` to the row of `parent` it belongs to."""

    child: str
    child_column: str
    parent: str
    parent_column: str
    via: str  # FOREIGN_KEY or SETTING
    name: str  # the constraint's name, or the USER_LINKS entry

    @property
    def label(self) -> str:
        """Return `child.column → parent.column`."""
        return f"{self.child}.{self.child_column} → {self.parent}.{self.parent_column}"

    @property
    def is_foreign_key(self) -> bool:
        return self.via == FOREIGN_KEY


@dataclass(frozen=True)
class SkippedLink:
    """A foreign key or setting entry that is not followed, and why."""

    label: str
    reason: str


def foreign_key_links(tables: Mapping[str, Table]) -> tuple[list[Link], list[SkippedLink]]:
    """Return the single-column foreign keys between `tables`, and the ones skipped."""
    links: list[Link] = []
    skipped: list[SkippedLink] = []
    for name in sorted(tables):
        for constraint in sorted(
            tables[name].foreign_key_constraints, key=lambda c: str(c.name or "")
        ):
            columns = list(constraint.column_keys)
            try:
                referred = [element.column for element in constraint.elements]
            except (NoReferencedTableError, NoReferencedColumnError):
                target = constraint.elements[0].target_fullname.rsplit(".", 1)[0]
                skipped.append(
                    SkippedLink(
                        f"{name}({', '.join(columns)}) → {target}",
                        "references a table outside the target schema",
                    )
                )
                continue
            parent = referred[0].table.name
            if len(columns) != 1:
                skipped.append(
                    SkippedLink(
                        f"{name}({', '.join(columns)}) → "
                        f"{parent}({', '.join(column.name for column in referred)})",
                        "composite foreign key: not followed (link one column with USER_LINKS)",
                    )
                )
                continue
            if parent not in tables:
                continue
            links.append(
                Link(
                    name,
                    columns[0],
                    parent,
                    referred[0].name,
                    FOREIGN_KEY,
                    str(constraint.name or ""),
                )
            )
    return links, skipped


def setting_links(
    entries: Mapping[str, str], tables: Mapping[str, Table], users_table: str, users_key: str
) -> tuple[list[Link], list[str]]:
    """Return the links configured in USER_LINKS, and a sentence for each entry that is wrong.

    Accepted shapes: `{"audit_log": "actor_id"}` (that column holds the users' key),
    `{"audit_log.actor_email": "users.email"}` and `{"audit_log.actor_email": "email"}`
    (a column of the users table), or `{"notes.order_ref": "orders.reference"}` (any table).
    """
    links: list[Link] = []
    problems: list[str] = []
    if not isinstance(entries, Mapping):
        return [], ['USER_LINKS must be a JSON object such as {"audit_log": "actor_id"}.']
    for key, value in entries.items():
        entry = f"{key!s}: {value!s}"
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"USER_LINKS entry “{entry}” must map a text to a text.")
            continue
        if "." in key:
            child, child_column = key.split(".", 1)
            parent, parent_column = value.split(".", 1) if "." in value else (users_table, value)
        else:
            child, child_column = key, value
            parent, parent_column = users_table, users_key
        problem = _missing(tables, child, child_column) or _missing(tables, parent, parent_column)
        if problem:
            problems.append(f"USER_LINKS entry “{entry}” is ignored: {problem}")
            continue
        links.append(Link(child, child_column, parent, parent_column, SETTING, entry))
    return links, problems


def _missing(tables: Mapping[str, Table], table: str, column: str) -> str:
    if table not in tables:
        return f"there is no table “{table}”."
    if column not in tables[table].c:
        return f"the table “{table}” has no column “{column}”."
    return ""
