"""Fixtures of the Schema section (the test schemas and `use_schema` are the dashboard's, in
builders.py, for the Data section's picker uses them too)."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_variety(use_schema, variety_schema) -> str:
    """Point the target at the variety schema; return its name."""
    use_schema(variety_schema)
    return variety_schema
