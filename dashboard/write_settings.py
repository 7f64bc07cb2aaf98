"""The write door's settings: whether row changes are on, their limits and timeouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings


def write_options() -> Mapping[str, Any]:
    return settings.TARGET_WRITE


def timeout_ms(name: str) -> int:
    """Return one of the write transaction's timeouts (STATEMENT_ or LOCK_TIMEOUT_MS)."""
    return int(write_options()[name])


def writes_problem() -> str:
    """Return why row changes are off ('' when they are on)."""
    if not getattr(settings, "DATA_WRITES_ENABLED", False):
        return "Row changes are off on this console (DATA_WRITES_ENABLED is not true)."
    if not write_options().get("URL_VAR"):
        return (
            "Row changes are enabled but TARGET_WRITE_DATABASE_URL is not set: the console "
            "writes only as its own write role (see the README's security section)."
        )
    return ""


def writes_enabled() -> bool:
    return not writes_problem()


def max_rows() -> int:
    return int(write_options().get("MAX_ROWS", 1000))
