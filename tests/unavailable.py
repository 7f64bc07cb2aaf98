"""One rule for a test whose tool or extension is missing: skip it on a developer's machine,
fail it under CI (`CI=true`, as .ci/run sets), so a green CI run means every test ran."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    """Return whether this run is CI's (CI set to a true value, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str) -> NoReturn:
    """Stop the test because `what` (a sentence: what is missing, how to install it) is missing."""
    if under_ci():
        pytest.fail(f"{what} Under CI every test must run.", pytrace=False)
    pytest.skip(what)
