"""Fixtures shared by the dashboard's test packages (registered here by import)."""

from tests.dashboard.app_rows import app_rows  # noqa: F401
from tests.dashboard.schema.builders import many_schema, use_schema, variety_schema  # noqa: F401
from tests.dashboard.tm_world import on_tm_database, tm, tm_database, tm_world  # noqa: F401
