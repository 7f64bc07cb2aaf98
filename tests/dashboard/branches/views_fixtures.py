"""Helpers shared by the branches page tests: the fake Neon fixture, htmx headers, text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.branches.neon_fixtures import VirtualTime
from tests.fakes.neon_server import FakeNeon

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def neon(fake: FakeNeon, neon_settings: Any, neon_virtual_time: VirtualTime) -> FakeNeon:
    """The fake Neon, with the console pointed at it and no real waits."""
    return fake


def text(response: Any) -> str:
    return response.content.decode()
