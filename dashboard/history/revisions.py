"""Alembic history as plain data: revisions, the database's current heads, what is pending."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alembic.script import Script
from django.http import Http404
from sqlalchemy import Connection, column, select, table, text

from dashboard.history.project import Project, load_project
from dashboard.target import run_read

CREATE_DATE = re.compile(r"^\s*Create Date:\s*(?P<value>.+?)\s*$", re.MULTILINE)
HEADER_LINE = re.compile(r"^\s*(Revision ID|Revises|Create Date):", re.IGNORECASE)


class UnknownRevision(Http404):
    """No revision with that id in the project's scripts (a 404 with a sentence)."""


@dataclass(frozen=True)
class Revision:
    """One revision script as the pages show it."""

    id: str
    message: str
    created: str  # the `Create Date` line as written; "" when absent
    created_at: datetime | None
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    children: tuple[str, ...]
    path: str
    docstring: str

    @property
    def is_base(self) -> bool:
        return not self.down_revisions

    @property
    def is_merge(self) -> bool:
        return len(self.down_revisions) > 1

    @property
    def is_branch_point(self) -> bool:
        return len(self.children) > 1

    @property
    def is_head(self) -> bool:
        return not self.children

    @property
    def created_label(self) -> str:
        """Return the creation time to show (minutes), or the raw line if it did not parse."""
        if self.created_at:
            return self.created_at.strftime("%Y-%m-%d %H:%M")
        return self.created

    @property
    def filename(self) -> str:
        return Path(self.path).name


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _parse_date(value: str) -> datetime | None:
    for candidate in (value, value.split(".")[0]):
        try:
            return datetime.fromisoformat(candidate)
        except ValueError:
            continue
    return None


def revision_from_script(script: Script) -> Revision:
    docstring = (script.module.__doc__ or "").strip()
    match = CREATE_DATE.search(docstring)
    created = match.group("value") if match else ""
    # Alembic's `doc` is the docstring's first paragraph; its first line is the message.
    first_paragraph = (script.doc or "").strip()
    message = first_paragraph.splitlines()[0] if first_paragraph else ""
    if HEADER_LINE.match(message):
        message = ""
    return Revision(
        id=script.revision,
        message=message,
        created=created,
        created_at=_parse_date(created) if created else None,
        down_revisions=_as_tuple(script.down_revision),
        depends_on=_as_tuple(script.dependencies),
        # Alembic copies a branch label onto every later revision of the branch; show only
        # where it is declared.
        branch_labels=_as_tuple(getattr(script.module, "branch_labels", None)),
        children=tuple(sorted(script.nextrev)),
        path=script.path,
        docstring=docstring,
    )


_lock = threading.Lock()
_histories: dict[str, tuple[str, list[Revision], dict[str, Revision]]] = {}


def _history(project: Project) -> tuple[list[Revision], dict[str, Revision]]:
    """Return the revisions newest first and by id, made once per version of the scripts."""
    with _lock:
        kept = _histories.get(project.key)
    if kept is not None and kept[0] == project.fingerprint:
        return kept[1], kept[2]
    history = [
        revision_from_script(script) for script in project.script.walk_revisions("base", "heads")
    ]
    by_id = {revision.id: revision for revision in history}
    with _lock:
        _histories[project.key] = (project.fingerprint, history, by_id)
    return history, by_id


def revision_history(project: Project | None = None) -> list[Revision]:
    """Return every revision, newest first (children before their parents)."""
    return list(_history(project or load_project())[0])


def script_heads(project: Project | None = None) -> tuple[str, ...]:
    """Return the head revisions of the scripts."""
    project = project or load_project()
    return tuple(project.script.get_heads())


def revision_named(revision_id: str, project: Project | None = None) -> Revision:
    """Return one revision by its exact id, or raise UnknownRevision (a 404 with a sentence)."""
    found = _history(project or load_project())[1].get(revision_id)
    if found is not None:
        return found
    raise UnknownRevision(
        f"There is no revision {revision_id!r} in the migration scripts. "
        "It may have been renamed or removed; pick one from the history."
    )


def revision_source(revision: Revision) -> str:
    """Return the text of the revision's script file."""
    return Path(revision.path).read_text(encoding="utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# The database's side


VERSION_TABLE_PRESENT_SQL = text(
    """
    SELECT to_regclass(
               format('%I.%I', CAST(:schema AS text), CAST(:table AS text))
           ) IS NOT NULL AS present
    """
)


def database_versions(conn: Connection, schema: str, table_name: str) -> tuple[str, ...] | None:
    """Return the rows of the version table, or None when there is no version table."""
    present = conn.execute(VERSION_TABLE_PRESENT_SQL, {"schema": schema, "table": table_name})
    if not present.scalar():
        return None
    versions = table(table_name, column("version_num"), schema=schema)
    query = select(versions.c.version_num).order_by(versions.c.version_num)
    return tuple(str(row.version_num) for row in conn.execute(query))


UNMANAGED, AT_BASE, UP_TO_DATE, BEHIND, UNKNOWN_VERSION = (
    "unmanaged",
    "base",
    "up_to_date",
    "behind",
    "unknown",
)


@dataclass(frozen=True)
class DatabaseState:
    """Where the target database stands against the scripts."""

    status: str
    heads: tuple[str, ...]  # what alembic_version holds
    unknown: tuple[str, ...]  # heads the scripts do not know
    pending: list[Revision] = field(default_factory=list)  # in the order they would run
    script_heads: tuple[str, ...] = ()

    @property
    def status_label(self) -> str:
        return {
            UNMANAGED: "not managed by Alembic",
            AT_BASE: "empty version table",
            UP_TO_DATE: "up to date",
            BEHIND: "behind the scripts",
            UNKNOWN_VERSION: "unknown revision",
        }.get(self.status, self.status)

    @property
    def sentence(self) -> str:
        if self.status == UNMANAGED:
            return (
                "The database is not managed by Alembic yet: it has no version table "
                "(every revision would run)."
            )
        if self.status == UNKNOWN_VERSION:
            return (
                f"The database is at {', '.join(self.unknown)}, which the scripts do not know: "
                "the database is ahead of this code, or scripts are missing."
            )
        if self.status == AT_BASE:
            return "The version table is empty: every revision would run."
        if self.status == UP_TO_DATE:
            return "The database is up to date with the scripts."
        count = len(self.pending)
        return (
            f"{count} revision{'s' if count != 1 else ''} pending: review "
            f"{'them' if count != 1 else 'it'} below, try {'them' if count != 1 else 'it'} on "
            "a branch, then apply."
        )


def pending_revisions(project: Project, heads: tuple[str, ...]) -> list[Revision]:
    """Return the revisions `upgrade heads` would run from `heads`, in run order."""
    revision_map = project.script.revision_map
    scripts = revision_map.iterate_revisions("heads", heads, implicit_base=True)
    by_id = _history(project)[1]
    return [
        by_id.get(script.revision) or revision_from_script(script)  # type: ignore[arg-type]
        for script in reversed(list(scripts))
    ]


def state_from_versions(project: Project, versions: tuple[str, ...] | None) -> DatabaseState:
    """Return the database state given the version table's rows (None: no table)."""
    heads = script_heads(project)
    if versions is None:
        return DatabaseState(UNMANAGED, (), (), pending_revisions(project, ()), heads)
    known = _history(project)[1]
    unknown = tuple(v for v in versions if v not in known)
    if unknown:
        return DatabaseState(UNKNOWN_VERSION, versions, unknown, [], heads)
    pending = pending_revisions(project, versions)
    if not versions:
        return DatabaseState(AT_BASE, versions, (), pending, heads)
    return DatabaseState(UP_TO_DATE if not pending else BEHIND, versions, (), pending, heads)


def database_state(project: Project | None = None) -> DatabaseState:
    """Return the target database's Alembic state (read-only, with timeouts)."""
    project = project or load_project()
    schema, table_name = project.settings.version_schema, project.settings.version_table
    versions = run_read(lambda conn: database_versions(conn, schema, table_name))
    return state_from_versions(project, versions)
