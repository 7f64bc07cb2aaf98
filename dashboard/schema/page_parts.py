"""Parts of the Schema pages, each read in its own read-only transaction, and the 404.

Each page is made of parts read in separate read-only transactions, so that a part which times
out (typically the sizes, which wait behind a table's exclusive lock) becomes a sentence in that
part while the rest of the page still renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from sqlalchemy import Connection

from dashboard.schema.reflection import UnknownTable
from dashboard.target import TargetError, run_read

# The warnings keep the logger name they had before this module was split out of services.
logger = logging.getLogger("dashboard.schema.services")
T = TypeVar("T")

# Sizes and definitions wait behind a table's ACCESS EXCLUSIVE lock (a running ALTER TABLE):
# worth a short wait, not the page's whole lock timeout.
PART_LOCK_TIMEOUT_MS = 500


@dataclass(frozen=True)
class Part(Generic[T]):
    """One part of a page: its value, or the sentence saying why it could not be read."""

    value: T | None = None
    error: str = ""


def read_part(
    work: Callable[[Connection], T], what: str, lock_timeout_ms: int | None = None
) -> Part[T]:
    """Return Part(work(conn)) from its own read-only transaction, or Part(error=sentence)."""
    try:
        return Part(run_read(work, lock_timeout_ms=lock_timeout_ms))
    except TargetError as exc:
        logger.warning("schema: %s could not be read: %s", what, exc.detail)
        return Part(error=exc.sentence)


def part_lock_timeout_ms() -> int:
    """Return how long a part that takes table locks (sizes, definitions) waits for them."""
    return min(PART_LOCK_TIMEOUT_MS, int(settings.TARGET["LOCK_TIMEOUT_MS"]))


def locking_part(work: Callable[[Connection], T], what: str) -> Part[T]:
    """Return a part that may wait behind a table lock: it waits briefly, not the page's time."""
    return read_part(work, what, lock_timeout_ms=part_lock_timeout_ms())


def unknown_table(name: str, schema: str) -> UnknownTable:
    """Return the 404 raised for a table that is not in the target schema."""
    return UnknownTable(f"There is no table called “{name}” in schema “{schema}”.")
