"""Fixtures of the fake Neon server's contract tests: a running fake and a client of it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

# The shared helpers assert; keep pytest's detailed assertion messages for them.
pytest.register_assert_rewrite(
    "tests.fakes.neon_contract_spec", "tests.fakes.neon_contract_scenarios"
)

from tests.fakes.neon_server import FakeNeon  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeNeon]:
    with FakeNeon() as server:
        yield server


@pytest.fixture
def http(fake: FakeNeon) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    transport = httpx.HTTPTransport(verify=False)  # plain HTTP to 127.0.0.1, no TLS context
    with httpx.Client(
        base_url=fake.base_url, headers=headers, timeout=5, transport=transport
    ) as client:
        yield client
