"""Fixtures shared by the branches tests: the fake Neon server, virtual time, Neon settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashboard.branches.neon_provider import NeonProvider
from tests.fakes.neon_server import FakeNeon


class VirtualTime:
    """Sleeps without waiting: moves a virtual clock and the fake Neon's clock together."""

    def __init__(self, fake: FakeNeon | None = None) -> None:
        self.now = 0.0
        self.calls: list[float] = []
        self.fake = fake

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds
        if self.fake is not None:
            self.fake.advance(seconds)

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeNeon]:
    with FakeNeon() as server:
        yield server


@pytest.fixture
def virtual_time(fake: FakeNeon) -> VirtualTime:
    return VirtualTime(fake)


@pytest.fixture
def neon_settings(settings: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeNeon) -> Any:
    """Point the console at the fake Neon (provider, URL, project, key in the environment)."""
    settings.BRANCH_PROVIDER = "neon"
    settings.NEON_API_URL = fake.base_url
    settings.NEON_PROJECT_ID = fake.project_id
    settings.NEON_TIMEOUT_SECONDS = 2.0
    monkeypatch.setenv("NEON_API_KEY", fake.api_key)
    return settings


@pytest.fixture
def neon_virtual_time(monkeypatch: pytest.MonkeyPatch, virtual_time: VirtualTime) -> VirtualTime:
    """Make every NeonProvider.from_settings() sleep and poll on virtual time (no real waits)."""
    original = NeonProvider.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls: type[NeonProvider], **overrides: Any) -> NeonProvider:
        options = {
            "sleep": virtual_time.sleep,
            "clock": virtual_time.clock,
            # Plain HTTP to 127.0.0.1: skip building a TLS context for every provider.
            "transport": httpx.HTTPTransport(verify=False),
            **overrides,
        }
        return original(cls, **options)

    monkeypatch.setattr(NeonProvider, "from_settings", classmethod(from_settings))
    return virtual_time
