"""Progress of a data generation run on stderr: rows per table and rows per second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Rows written per table, with rows/s, on stderr: redrawn in place on a terminal, a line
    every LOG_EVERY seconds otherwise (a log file, `make demo` output)."""

    LOG_EVERY = 10.0

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self._table, self._total, self._done = "", 0, 0
        self._started = self._drawn = 0.0

    def start(self, table: str, total: int) -> None:
        self._table, self._total, self._done = table, total, 0
        self._started = self._drawn = time.perf_counter()

    def advance(self, rows: int) -> None:
        self._done += rows
        now = time.perf_counter()
        if self.live and now - self._drawn >= 0.5:
            self._drawn = now
            self._draw("\r", now)
        elif self.enabled and not self.live and now - self._drawn >= self.LOG_EVERY:
            self._drawn = now
            self._draw("", now)
            self.stream.write("\n")

    def finish(self) -> float:
        """Return the seconds this table took, after printing its final line."""
        now = time.perf_counter()
        if self.enabled:
            self._draw("\r" if self.live else "", now)
            self.stream.write("\n")
            self.stream.flush()
        return now - self._started

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _draw(self, prefix: str, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        percent = 100 * self._done / self._total if self._total else 100.0
        self.stream.write(
            f"{prefix}  {self._table:<14} {self._done:>12,} / {self._total:<12,} "
            f"{percent:5.1f}%  {self._done / elapsed:>11,.0f} rows/s  {elapsed:7.1f}s"
        )
        self.stream.flush()
