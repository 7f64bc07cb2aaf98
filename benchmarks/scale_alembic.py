"""The schema-scale benchmark's Alembic project: 500 revisions with branch points and merges.

Written once into a folder (alembic.ini, env.py, versions/) and reused. The history is a main
line in which, every third stretch of ten revisions, a revision has two children that grow
side by side for four revisions each and are joined by a merge revision; the last revision is
the only head. Each script adds and drops a column of one of the generated tables, the way a
real project's scripts read; the benchmark never runs them (offline SQL and the review are
background jobs), it reads them as the Migrations pages do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REVISIONS = 500
STRETCH = 10
ALEMBIC_INI = """[alembic]
script_location = %(here)s/versions_root
path_separator = os
"""
ENV_PY = '''"""Alembic environment of the schema-scale benchmark's project (no models)."""

import os

from alembic import context
from sqlalchemy import create_engine

config = context.config
VERSION_TABLE = os.environ.get("ALEMBIC_VERSION_TABLE", "alembic_version")
VERSION_SCHEMA = os.environ.get("ALEMBIC_VERSION_SCHEMA") or None


def _url() -> str:
    url = os.environ[os.environ.get("ALEMBIC_URL_ENV", "APP_DIRECT_URL")]
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


if context.is_offline_mode():
    context.configure(
        url=_url(), literal_binds=True, version_table=VERSION_TABLE,
        version_table_schema=VERSION_SCHEMA,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(_url()).connect() as connection:
        context.configure(
            connection=connection, version_table=VERSION_TABLE,
            version_table_schema=VERSION_SCHEMA,
        )
        with context.begin_transaction():
            context.run_migrations()
'''
SCRIPT = '''"""{message}

Revision ID: {revision}
Revises: {revises}
Create Date: {created}

"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("{table}", sa.Column("{column}", sa.{kind}(), nullable=True))


def downgrade() -> None:
    op.drop_column("{table}", "{column}")
'''
KINDS = ("Text", "Integer", "Boolean", "Date", "Numeric")


@dataclass(frozen=True)
class Planned:
    revision: str
    down: str | tuple[str, ...] | None
    number: int


def revision_id(number: int) -> str:
    return hashlib.sha256(f"scale-{number}".encode()).hexdigest()[:12]


def plan(count: int = REVISIONS) -> list[Planned]:
    """Return the revisions in creation order, with their parents."""
    planned: list[Planned] = []
    head: str | None = None
    number = 0

    def add(down: str | tuple[str, ...] | None) -> str:
        nonlocal number
        revision = revision_id(number)
        planned.append(Planned(revision, down, number))
        number += 1
        return revision

    while number < count:
        stretch = number // STRETCH
        room = count - number
        if stretch % 3 == 1 and room >= STRETCH and head is not None:
            fork = add(head)
            left = right = fork
            for _ in range(4):
                left = add(left)
                right = add(right)
            head = add((left, right))  # the merge: ten revisions in all
        else:
            head = add(head)
    return planned


def write_project(root: Path, tables: list[str], count: int = REVISIONS) -> Path:
    """Write the project under `root` (once; kept when complete); return its alembic.ini."""
    ini = root / "alembic.ini"
    versions = root / "versions_root" / "versions"
    if ini.is_file() and len(list(versions.glob("*.py"))) == count:
        return ini
    versions.mkdir(parents=True, exist_ok=True)
    for old in versions.glob("*.py"):
        old.unlink()
    ini.write_text(ALEMBIC_INI)
    (root / "versions_root" / "env.py").write_text(ENV_PY)
    (root / "versions_root" / "script.py.mako").write_text("")
    start = datetime(2021, 1, 4, 9, 0)
    for item in plan(count):
        table = tables[item.number % len(tables)]
        column = f"rev_{item.number:03d}"
        down = item.down
        revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
        message = f"merge {revises}" if isinstance(down, tuple) else f"add {column} to {table}"
        text = SCRIPT.format(
            message=message,
            revision=item.revision,
            revises=revises,
            created=(start + timedelta(days=item.number * 2, minutes=item.number)).isoformat(
                sep=" "
            ),
            down=down,
            table=table,
            column=column,
            kind=KINDS[item.number % len(KINDS)],
        )
        if isinstance(down, tuple):  # a merge changes nothing
            text = text.split("\n\ndef upgrade")[0] + "\n\ndef upgrade() -> None:\n    pass\n"
            text += "\n\ndef downgrade() -> None:\n    pass\n"
        (versions / f"{item.revision}_{column}.py").write_text(text)
    return ini


def stamped_revision(count: int = REVISIONS, behind: int = 12) -> str:
    """Return the revision the benchmark's database is at: `behind` revisions before the head."""
    return plan(count)[-1 - behind].revision
