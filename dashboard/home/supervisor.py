"""Keeping child processes running: a child that exits is started again, with backoff.

`serve_console` runs the web server and the job worker side by side. Neither may take the
other down: when one exits (a crash, an out-of-memory kill, a bug) it is started again after a
jittered, growing delay, and the other keeps running. Only a stop request ends them both.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.engine import backoff_delay

logger = logging.getLogger(__name__)


@dataclass
class Child:
    """One supervised command and what happened to it."""

    name: str
    args: Sequence[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None  # when an exited child is due to start again
    failures: int = 0  # exits in a row without a healthy run in between
    restarts: int = 0
    pids: list[int] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Start children, restart any that exits (backoff), stop them all on request."""

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        env: Mapping[str, str] | None = None,
        *,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        healthy_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        delay: Callable[[int, float, float], float] = backoff_delay,
    ) -> None:
        self.children = [Child(name, list(args)) for name, args in commands.items()]
        self.env = dict(env) if env is not None else None
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.healthy_after = healthy_after
        self._clock = clock
        self._delay = delay

    def child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(list(child.args), env=self.env)
        child.started_at = self._clock()
        child.restart_at = None
        child.pids.append(child.process.pid)
        logger.info("%s started (pid %d)", child.name, child.process.pid)

    def check(self) -> None:
        """Notice children that exited and start those whose delay has passed."""
        now = self._clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            if now - child.started_at >= self.healthy_after:
                child.failures = 0
            child.failures += 1
            wait = self._delay(child.failures, self.base_delay, self.max_delay)
            child.restart_at = now + wait
            logger.warning(
                "%s exited with code %s; starting it again in %.1f s (the others keep running)",
                child.name,
                child.process.returncode,
                wait,
            )

    def run(self, should_stop: Callable[[], bool], tick: float = 0.25) -> None:
        """Supervise until `should_stop()` is true, then stop every child."""
        try:
            while not should_stop():
                self.check()
                time.sleep(tick)
        finally:
            self.stop()

    def stop(self, timeout: float = 20.0) -> None:
        """Ask every running child to stop (SIGTERM), then kill what is left after `timeout`."""
        running = [c.process for c in self.children if c.running and c.process is not None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = self._clock() + timeout
        for process in running:
            try:
                process.wait(timeout=max(deadline - self._clock(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("pid %d did not stop in %.0f s; killing it", process.pid, timeout)
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
