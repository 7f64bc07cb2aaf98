"""Fixtures of the Schema section: test schemas, and pointing the console's target at one."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dashboard.schema import reflection
from tests.dashboard.schema.builders import VARIETY_DDL, built_schema, many_tables_ddl


@pytest.fixture(scope="session")
def variety_schema() -> Iterator[str]:
    """A schema with every awkward table shape (see builders.py); dropped at the end."""
    with built_schema("variety", VARIETY_DDL) as schema:
        yield schema


@pytest.fixture(scope="session")
def many_schema() -> Iterator[str]:
    """A schema with a few hundred tables."""
    with built_schema("many", many_tables_ddl()) as schema:
        yield schema


@pytest.fixture
def use_schema(settings) -> Iterator[Callable[[str], None]]:
    """Return a function that points the console's target at a schema for this test."""

    def point_at(schema: str) -> None:
        settings.TARGET = {**settings.TARGET, "SCHEMA": schema}
        reflection.invalidate()

    settings.REFLECTION_CHECK_SECONDS = 0
    yield point_at
    reflection.invalidate()


@pytest.fixture
def in_variety(use_schema, variety_schema) -> str:
    """Point the target at the variety schema; return its name."""
    use_schema(variety_schema)
    return variety_schema
