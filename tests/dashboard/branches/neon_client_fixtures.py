"""Fixtures shared by the Neon client tests: the fake Neon server, a recording sleeper."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from dashboard.branches.neon_client import NeonClient
from tests.fakes.neon_server import FakeNeon


class Sleeper:
    """Records the client's waits instead of waiting: a virtual clock moves by each wait (and
    the fake's clock with it, when given)."""

    def __init__(self, fake: FakeNeon | None = None) -> None:
        self.calls: list[float] = []
        self.now = 0.0
        self.fake = fake

    def __call__(self, seconds: float) -> None:
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
def sleeper(fake: FakeNeon) -> Sleeper:
    return Sleeper(fake)


@pytest.fixture
def client(fake: FakeNeon, sleeper: Sleeper) -> Iterator[NeonClient]:
    with make_client(fake, sleeper) as neon:
        yield neon


def make_client(fake: FakeNeon, sleeper: Sleeper, **overrides: object) -> NeonClient:
    options: dict[str, object] = {
        "base_url": fake.base_url,
        "sleep": sleeper,
        "clock": sleeper.clock,
        "rng": random.Random(1234),
        "read_timeout": 5.0,
        # Plain HTTP to 127.0.0.1: skip building a TLS context (75 ms per client).
        "transport": httpx.HTTPTransport(verify=False),
    }
    options.update(overrides)
    return NeonClient(fake.api_key, fake.project_id, **options)  # type: ignore[arg-type]
