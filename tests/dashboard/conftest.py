"""Fixtures shared by the dashboard's test packages."""

from tests.dashboard.app_rows import app_rows  # noqa: F401 (a fixture: registered by import)
