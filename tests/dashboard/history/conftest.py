"""Real Alembic projects written into tmp_path, and real databases for them to migrate.

Each project database is created through PG_SUPERUSER_URL and owned by `todo_owner`, the
target role, so the local branch provider (which connects as the target role) can clone it.
The console is pointed at it by swapping the target URL for the test (and back afterwards).
"""

from __future__ import annotations

import os
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core.embedded import OWNER_ROLE
from dashboard.history.project import forget_projects
from dashboard.target import reset_engine
from tests.pgplugin import point_console_at, running_layout

URL_ENV = "HISTORY_PROJECT_URL"

ENV_PY = '''
"""env.py of a test project: URL from HISTORY_PROJECT_URL, lock timeout from -x."""
import os
import re

from alembic import context
from sqlalchemy import create_engine, pool

{extra_import}

# The console must hand over the branch's URL only, never its own database URLs.
for leaked in ("TARGET_DATABASE_URL", "DATABASE_URL", "PGPASSWORD"):
    if os.environ.get(leaked):
        raise RuntimeError(f"the console leaked {{leaked}} into the migration's environment")

URL = os.environ.get("{url_env}", "")
LOCK_TIMEOUT = context.get_x_argument(as_dictionary=True).get("lock_timeout", "5s")
if not re.match(r"^\\d+\\s*(ms|s|min)?$", LOCK_TIMEOUT):
    raise ValueError("bad lock timeout")


def run_offline():
    context.configure(url=URL, literal_binds=True, dialect_opts={{"paramstyle": "named"}})
    with context.begin_transaction():
{offline_setup}
        context.run_migrations()


def run_online():
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SET lock_timeout = '{{LOCK_TIMEOUT}}'")
        connection.commit()
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
'''

INI = """
[alembic]
script_location = {location}
"""

REVISION = '''"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: {date}
"""
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


@dataclass(frozen=True)
class Rev:
    """One revision of a test project."""

    id: str
    down: str | tuple[str, ...] | None
    upgrade: str = "pass"
    downgrade: str = "pass"
    message: str = ""
    date: str = "2025-01-01 10:00:00.000000"
    labels: tuple[str, ...] | None = None
    depends: str | None = None


@dataclass(frozen=True)
class AlembicProject:
    root: Path
    ini: Path
    revisions: tuple[Rev, ...]


def _body(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")


# What an env.py that protects its offline script puts at its top (as migrations/env.py does).
OFFLINE_TIMEOUTS = (
    "SET lock_timeout = '5s'",
    "SET statement_timeout = '15min'",
)


def write_project(
    root: Path,
    revisions: list[Rev],
    *,
    env_extra_import: str = "",
    relative: bool = False,
    offline_setup: tuple[str, ...] = (),
) -> AlembicProject:
    """Write an Alembic project (ini, env.py, versions/) under `root` and return it.

    `offline_setup`: statements env.py executes before the migrations in offline (--sql) mode.
    """
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    location = "migrations" if relative else "%(here)s/migrations"
    (root / "alembic.ini").write_text(INI.format(location=location))
    setup = "\n".join(f"        context.execute({statement!r})" for statement in offline_setup)
    (root / "migrations" / "env.py").write_text(
        ENV_PY.format(url_env=URL_ENV, extra_import=env_extra_import, offline_setup=setup)
    )
    (root / "migrations" / "script.py.mako").write_text("")
    for number, rev in enumerate(revisions):
        down = rev.down
        revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
        (versions / f"{number:03d}_{rev.id}.py").write_text(
            REVISION.format(
                message=rev.message or f"Revision {rev.id}",
                rev=rev.id,
                revises=revises,
                date=rev.date,
                down=down,
                labels=rev.labels,
                depends=rev.depends,
                upgrade=_body(rev.upgrade),
                downgrade=_body(rev.downgrade),
            )
        )
    return AlembicProject(root, root / "alembic.ini", tuple(revisions))


# -- the projects the tests use --------------------------------------------------------------

# Plain names, not hashes: 001 makes a table with data, 002 adds a column, 003 drops one and
# builds an index without CONCURRENTLY, and cannot be undone.
NUMBERED = [
    Rev(
        "001",
        None,
        upgrade="""
            op.create_table(
                "hist_items",
                sa.Column("id", sa.BigInteger, primary_key=True),
                sa.Column("name", sa.Text, nullable=False),
                sa.Column("note", sa.Text),
            )
            op.execute("INSERT INTO hist_items (id, name, note) "
                       "SELECT g, 'item ' || g, 'n' FROM generate_series(1, 50) AS g")
        """,
        downgrade='op.drop_table("hist_items")',
        message="Create items",
        date="2025-02-01 09:00:00.000000",
    ),
    Rev(
        "002",
        "001",
        upgrade='op.add_column("hist_items", sa.Column("price", sa.Numeric))',
        downgrade='op.drop_column("hist_items", "price")',
        message="Add a price",
        date="2025-02-02 09:00:00.000000",
    ),
    Rev(
        "003",
        "002",
        upgrade="""
            op.drop_column("hist_items", "note")
            op.create_index("ix_hist_items_name", "hist_items", ["name"])
        """,
        downgrade="""
            op.drop_index("ix_hist_items_name", table_name="hist_items")
            op.add_column("hist_items", sa.Column("note", sa.Text))
        """,
        message="Drop the note, index the name",
        date="2025-02-03 09:00:00.000000",
    ),
]

# Hash ids, a branch after the base and a merge of the two branches.
BRANCHED = [
    Rev("1a2b3c4d5e6f", None, message="Base", date="2025-03-01 08:00:00"),
    Rev("2b3c4d5e6f70", "1a2b3c4d5e6f", message="Split", date="2025-03-02 08:00:00"),
    Rev(
        "3c4d5e6f7081",
        "2b3c4d5e6f70",
        message="Left side",
        labels=("left",),
        date="2025-03-03 08:00:00",
    ),
    Rev("4d5e6f708192", "2b3c4d5e6f70", message="Right side", date="2025-03-04 08:00:00"),
    Rev(
        "5e6f708192a3",
        ("3c4d5e6f7081", "4d5e6f708192"),
        message="Merge left and right",
        date="2025-03-05 08:00:00",
    ),
]

# For the review: 002 changes a column's type, adds a column, builds an index and drops a
# column: four statements on a table with data.
REVIEWED = [
    Rev(
        "001",
        None,
        upgrade="""
            op.create_table(
                "rv_items",
                sa.Column("id", sa.BigInteger, primary_key=True),
                sa.Column("name", sa.String(100), nullable=False),
                sa.Column("note", sa.Text),
            )
        """,
        downgrade='op.drop_table("rv_items")',
        message="Create items",
    ),
    Rev(
        "002",
        "001",
        upgrade="""
            op.alter_column("rv_items", "name", type_=sa.String(200))
            op.add_column("rv_items", sa.Column("price", sa.Numeric))
            op.create_index("ix_rv_items_name", "rv_items", ["name"])
            op.drop_column("rv_items", "note")
        """,
        downgrade="""
            op.add_column("rv_items", sa.Column("note", sa.Text))
            op.drop_index("ix_rv_items_name", table_name="rv_items")
            op.drop_column("rv_items", "price")
            op.alter_column("rv_items", "name", type_=sa.String(100))
        """,
        message="Widen the name, price, index, drop the note",
    ),
]


BROKEN = [
    Rev(
        "001",
        None,
        upgrade='op.create_table("hist_things", sa.Column("id", sa.BigInteger, primary_key=True))',
        downgrade='op.drop_table("hist_things")',
        message="Create things",
    ),
    Rev(
        "002",
        "001",
        upgrade='op.execute("ALTER TABLE hist_no_such_table ADD COLUMN x integer")',
        downgrade="pass",
        message="Alter a table that does not exist",
    ),
]


# -- databases -------------------------------------------------------------------------------


def drop_database_and_branches(dbname: str) -> None:
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR starts_with(datname, %s)",
                (dbname, f"{dbname}__br__"),
            )
        ]
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def create_owned_database(prefix: str = "hist") -> str:
    """Create an empty database owned by the target role and return its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
    return name


def owner_url(dbname: str) -> str:
    return running_layout().url(OWNER_ROLE, dbname)


@pytest.fixture
def project_database():
    """Yield the name of a fresh database owned by todo_owner; drop it and its branches."""
    name = create_owned_database()
    yield name
    drop_database_and_branches(name)


@pytest.fixture
def console_on(settings, monkeypatch):
    """Point the console's target and Alembic settings at a test project and database."""
    state: dict[str, object] = {}

    def point(project: AlembicProject, dbname: str) -> None:
        # Read as the console's reader, branched as its maintenance role, applied as the owner.
        point_console_at(dbname, settings, monkeypatch)
        settings.ALEMBIC_CONFIG = str(project.ini)
        settings.ALEMBIC_WORKDIR = ""
        settings.ALEMBIC_URL_ENV = URL_ENV
        settings.ALEMBIC_TIMEOUT_S = 60
        settings.BRANCH_PROVIDER = "local"
        reset_engine()
        forget_projects()
        state["dbname"] = dbname

    yield point
    reset_engine()
    forget_projects()


def migrate(project: AlembicProject, dbname: str, revision: str) -> None:
    """Bring `dbname` to `revision` with Alembic in-process (as a developer would)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(project.ini))
    previous = os.environ.get(URL_ENV)
    os.environ[URL_ENV] = owner_url(dbname).replace("postgresql://", "postgresql+psycopg://")
    saved = {
        key: os.environ.pop(key)
        for key in ("TARGET_DATABASE_URL", "DATABASE_URL")
        if key in os.environ
    }
    try:
        command.upgrade(config, revision)
    finally:
        os.environ.update(saved)
        if previous is None:
            os.environ.pop(URL_ENV, None)
        else:
            os.environ[URL_ENV] = previous


def stamp(project: AlembicProject, dbname: str, *revisions: str) -> None:
    """Write `revisions` into the version table without running anything."""
    with psycopg.connect(owner_url(dbname), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)"
        )
        conn.execute("DELETE FROM alembic_version")
        for revision in revisions:
            conn.execute("INSERT INTO alembic_version VALUES (%s)", (revision,))


@pytest.fixture
def numbered_project(tmp_path) -> AlembicProject:
    return write_project(tmp_path / "numbered", NUMBERED)


@pytest.fixture
def branched_project(tmp_path) -> AlembicProject:
    return write_project(tmp_path / "branched", BRANCHED, relative=True)


@pytest.fixture
def broken_project(tmp_path) -> AlembicProject:
    return write_project(tmp_path / "broken", BROKEN)


@pytest.fixture
def unimportable_project(tmp_path) -> AlembicProject:
    return write_project(
        tmp_path / "unimportable",
        NUMBERED[:1],
        env_extra_import="import schemadesk_missing_dependency  # noqa: F401",
    )
