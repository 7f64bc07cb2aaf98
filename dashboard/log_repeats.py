"""A logging filter: an identical line is written once per interval, with a count.

While a database is down every request and every worker loop fails the same way; without this
an outage of a minute wrote hundreds of thousands of identical lines (and their tracebacks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Forget lines not seen for this many intervals (bounds the memory a flood of distinct lines
# can take).
FORGET_AFTER_INTERVALS = 2
MAX_REMEMBERED = 2000


@dataclass
class _Seen:
    since: float  # when the line was last let through
    last: float  # when it was last seen
    held_back: int = 0


def _exception_signature(record: logging.LogRecord) -> str:
    if not record.exc_info or record.exc_info[1] is None:
        return ""
    exc = record.exc_info[1]
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {first_line}"


class RepeatsOncePerInterval(logging.Filter):
    """Let a line through once per `interval_seconds` per identical line.

    Identical means: same logger, level, formatted message and exception (type and first line).
    The next line let through after an interval says how many were held back, e.g.
    "… (and 412 more like it in the last 60 s)". Lines below `min_level` always pass.
    """

    def __init__(
        self,
        interval_seconds: float = 60.0,
        min_level: int = logging.INFO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval_seconds = float(interval_seconds)
        self.min_level = min_level
        self._clock = clock
        self._seen: dict[tuple[str, int, str, str], _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level or self.interval_seconds <= 0:
            return True
        message = record.getMessage()
        key = (record.name, record.levelno, message, _exception_signature(record))
        with self._lock:
            now = self._clock()
            seen = self._seen.get(key)
            if seen is not None and now - seen.since < self.interval_seconds:
                seen.held_back += 1
                seen.last = now
                return False
            held_back = seen.held_back if seen is not None else 0
            since = seen.since if seen is not None else now
            self._seen[key] = _Seen(since=now, last=now)
            self._forget_old(now)
        if held_back:
            record.msg = f"{message} (and {held_back} more like it in the last {now - since:.0f} s)"
            record.args = None
        return True

    def _forget_old(self, now: float) -> None:
        if len(self._seen) <= MAX_REMEMBERED:
            return
        horizon = self.interval_seconds * FORGET_AFTER_INTERVALS
        for key in [k for k, seen in self._seen.items() if now - seen.last > horizon]:
            del self._seen[key]
        while len(self._seen) > MAX_REMEMBERED:  # still a flood of distinct lines
            del self._seen[next(iter(self._seen))]
