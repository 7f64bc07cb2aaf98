"""What the console sends to the target: each statement, and each error's SQLSTATE.

Tests count these instead of timing pages: a page's cost is its number of statements, and a
wait behind a lock is bounded by `lock_timeout` for each statement that reports 55P03."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection
from django.test.utils import CaptureQueriesContext
from sqlalchemy import event

from dashboard.target import engine

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired
QUERY_CANCELED = "57014"  # statement_timeout expired (or a cancel)


@dataclass
class TargetStatements:
    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # SQLSTATE of each failed statement

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.sent.append(statement)

    def _failed(self, context) -> None:
        self.errors.append(getattr(context.original_exception, "sqlstate", None) or "")

    def __len__(self) -> int:
        return len(self.sent)


@contextmanager
def target_statements() -> Iterator[TargetStatements]:
    """Record the statements sent to the target (SET and set_config included) while it runs."""
    seen = TargetStatements()
    target = engine()
    event.listen(target, "before_cursor_execute", seen._before)
    event.listen(target, "handle_error", seen._failed)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", seen._before)
        event.remove(target, "handle_error", seen._failed)


@contextmanager
def page_statements() -> Iterator[tuple[TargetStatements, CaptureQueriesContext]]:
    """Record the statements sent to the target and to the console's own database (Django's
    schema) while it runs: the two counts of README's benchmark tables, counted as
    benchmarks/schema_scale.py counts them."""
    with target_statements() as target, CaptureQueriesContext(connection) as console:
        yield target, console
