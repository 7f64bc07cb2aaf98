"""A child that exits is started again with growing delays; the others keep running."""

from __future__ import annotations

import sys
import time

from dashboard.home.supervisor import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


def _until(condition, attempts: int = 400, pause: float = 0.05) -> None:
    for _ in range(attempts):
        if condition():
            return
        time.sleep(pause)
    raise AssertionError("condition never held")


def test_an_exiting_child_is_restarted_with_backoff_and_never_stops_the_other():
    asked: list[int] = []

    def delay(attempt: int, base: float, ceiling: float) -> float:
        asked.append(attempt)
        return 0.0

    supervisor = Supervisor({"web": SLEEPER, "worker": CRASHER}, delay=delay, healthy_after=60)
    supervisor.start_all()
    web = supervisor.child("web")
    worker = supervisor.child("worker")
    try:

        def restarted_three_times() -> bool:
            supervisor.check()
            return worker.restarts >= 3

        _until(restarted_three_times)
        assert web.running and web.pids == web.pids[:1], "the web server was touched"
        assert len(set(worker.pids)) == worker.restarts + 1
        # Each exit in a row waits longer: attempt 1, 2, 3 of the backoff.
        assert asked[:3] == [1, 2, 3]
    finally:
        supervisor.stop(timeout=5)
    assert not web.running and not worker.running


def test_a_child_that_ran_long_enough_starts_its_backoff_again():
    clock = [0.0]
    asked: list[int] = []
    supervisor = Supervisor(
        {"worker": CRASHER},
        delay=lambda attempt, base, ceiling: asked.append(attempt) or 0.0,
        healthy_after=60,
        clock=lambda: clock[0],
    )
    supervisor.start_all()
    worker = supervisor.child("worker")
    try:
        worker.process.wait(timeout=10)
        supervisor.check()  # exit 1
        supervisor.check()  # restart
        worker.process.wait(timeout=10)
        supervisor.check()  # exit 2, right after starting
        supervisor.check()
        worker.process.wait(timeout=10)
        clock[0] += 61  # this run lasted long enough to count as healthy
        supervisor.check()
    finally:
        supervisor.stop(timeout=5)
    assert asked == [1, 2, 1]


def test_stop_kills_a_child_that_ignores_sigterm():
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
    ]
    supervisor = Supervisor({"stubborn": stubborn})
    supervisor.start_all()
    time.sleep(0.5)  # let it install its handler
    supervisor.stop(timeout=0.5)
    assert not supervisor.child("stubborn").running
