"""Fixtures of the data-layer tests: engines per role, users that clean up, fresh databases.

The test database `schemadesk_test` is shared with the console's tests: every user made here
has a unique id and is deleted (with all its rows, by cascade) when the test ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core.config import load_settings
from core.embedded import OWNER_ROLE
from core.engine import create_app_engine, create_direct_engine, session_factory

ROOT = Path(__file__).resolve().parents[2]


def _dispose_after(engine: Engine) -> Iterator[Engine]:
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def owner_engine() -> Iterator[Engine]:
    """An engine connected as the table owner (APP_DIRECT_URL): RLS does not apply."""
    yield from _dispose_after(create_direct_engine(os.environ["APP_DIRECT_URL"]))


@pytest.fixture(scope="session")
def app_engine() -> Iterator[Engine]:
    """The application's pooled engine, connected as todo_app (APP_DATABASE_URL): RLS applies."""
    yield from _dispose_after(create_app_engine(load_settings()))


@pytest.fixture(scope="session")
def app_sessions(app_engine: Engine) -> sessionmaker[Session]:
    return session_factory(app_engine)


@pytest.fixture
def make_user(owner_engine: Engine) -> Iterator[Callable[..., str]]:
    """Return a factory of users (as owner) with unique ids, all deleted after the test."""
    made: list[str] = []

    def make(label: str = "user") -> str:
        user_id = f"test_{label}_{uuid.uuid4().hex[:12]}"
        with owner_engine.begin() as conn:
            conn.execute(
                text("INSERT INTO users (id, email, name) VALUES (:id, :email, :name)"),
                {"id": user_id, "email": f"{user_id}@example.test", "name": label.title()},
            )
        made.append(user_id)
        return user_id

    yield make
    if made:
        with owner_engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE id = ANY(:ids)"), {"ids": made})


@pytest.fixture(scope="session")
def superuser_url() -> str:
    return os.environ["PG_SUPERUSER_URL"]


def alembic_config(url: str) -> Config:
    """Return an Alembic config of this project aimed at `url` through `-x url=...`."""
    config = Config(str(ROOT / "alembic.ini"), cmd_opts=_XArgs([f"url={url}"]))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


class _XArgs:
    """The bit of argparse's namespace that Alembic's `get_x_argument` reads."""

    def __init__(self, x: list[str]) -> None:
        self.x = x
        self.autogenerate = False


@pytest.fixture
def fresh_database(superuser_url: str) -> Iterator[Callable[[], str]]:
    """Return a factory of empty databases owned by todo_owner (URLs as that owner)."""
    made: list[str] = []
    owner_url = make_url(os.environ["APP_DIRECT_URL"])

    def make() -> str:
        name = f"core_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(superuser_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                )
            )
        made.append(name)
        return owner_url.set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def migrated_database(fresh_database: Callable[[], str]) -> Callable[[], str]:
    """Return a factory of fresh databases upgraded to the Alembic head."""

    def make() -> str:
        url = fresh_database()
        command.upgrade(alembic_config(url), "head")
        return url

    return make
