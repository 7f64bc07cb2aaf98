"""Identical log lines are written once per interval, with the number held back."""

from __future__ import annotations

import logging

from dashboard.log_repeats import RepeatsOncePerInterval


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(message: str, *args: object, level: int = logging.ERROR, exc=None):
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("x.y", level, __file__, 1, message, args, exc_info)


def test_a_flood_of_identical_errors_is_one_line_per_interval_with_a_count():
    clock = Clock()
    repeats = RepeatsOncePerInterval(interval_seconds=60, clock=clock)
    down = ConnectionRefusedError("connection refused")
    passed = []
    for second in range(180):  # three intervals, 50 identical errors a second
        clock.now = 1000.0 + second
        for _ in range(50):
            record = _record("console database down on %s", "/schema/", exc=down)
            if repeats.filter(record):
                passed.append(record.getMessage())
    assert len(passed) == 3
    assert passed[0] == "console database down on /schema/"
    assert passed[1] == "console database down on /schema/ (and 2999 more like it in the last 60 s)"
    assert passed[2].endswith("(and 2999 more like it in the last 60 s)")


def test_distinct_lines_and_debug_lines_pass():
    repeats = RepeatsOncePerInterval(interval_seconds=60, clock=Clock())
    assert repeats.filter(_record("down on %s", "/a/"))
    assert repeats.filter(_record("down on %s", "/b/"))
    assert repeats.filter(_record("down on %s", "/a/", level=logging.WARNING))
    assert repeats.filter(_record("down", exc=ValueError("one")))
    assert repeats.filter(_record("down", exc=ValueError("two")))
    assert not repeats.filter(_record("down", exc=ValueError("two")))
    assert all(repeats.filter(_record("detail", level=logging.DEBUG)) for _ in range(5))
    assert repeats.filter(_record("retrying", level=logging.INFO))
    assert not repeats.filter(_record("retrying", level=logging.INFO))


def test_the_console_handler_has_the_filter():
    handler = logging.getLogger().handlers[0]
    assert any(isinstance(f, RepeatsOncePerInterval) for f in handler.filters)
