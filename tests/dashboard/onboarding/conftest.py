"""What the connect tests share: a fresh cluster of the module's own (not the test run's), a
shop database on it made as a newcomer's would be, a newcomer's environment, and a command
that ends by serving the console, run until the test is done with it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from core.netports import free_port
from core.pgcluster import Cluster, wait_for_port
from tests.dashboard.onboarding.shop_project import SEED_SQL, URL_VARIABLE, write_shop_project

ROOT = Path(__file__).resolve().parents[3]
SERVING = re.compile(r"Schemadesk is at (http://\S+)/ ")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A fresh cluster of this module's own (not the test run's)."""
    # A folder of its own under /tmp: the server's user must reach it (pytest's are private).
    made = Cluster(Path(tempfile.mkdtemp(prefix="schemadesk-connect-pg-")), ephemeral=True)
    made.start(free_port())
    try:
        yield made
    finally:
        made.destroy()


def clean_environment() -> dict[str, str]:
    """Return a newcomer's environment: none of the test run's database settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PG_BINDIR")
    return {key: os.environ[key] for key in keep if key in os.environ}


def shop_database(cluster: Cluster, root: Path, name: str) -> dict[str, str]:
    """Make role {name}_owner (no special rights) and its database, migrated and seeded."""
    password = secrets.token_urlsafe(12)
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name}_owner LOGIN PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {name} OWNER {name}_owner")
    target = f"postgresql://{name}_owner:{password}@127.0.0.1:{cluster.port}/{name}"
    ini = write_shop_project(root / name)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ini.parent,
        env={**clean_environment(), URL_VARIABLE: target.replace("ql://", "ql+psycopg://")},
        check=True,
        capture_output=True,
    )
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(SEED_SQL)
    return {
        "target": target,
        "admin": cluster.superuser_url(),
        "ini": str(ini),
        "env_file": str(root / f"{name}.env"),
    }


class Output:
    """A process's output, read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def serving(
    command: list[str], environment: dict[str, str], wait_seconds: float
) -> Iterator[tuple[str, Output]]:
    """Run `command` (which ends by serving the console, as serve_console does) in a process
    group of its own; yield the console's URL once it accepts connections, and the output so
    far and to come. The process group is stopped at the end."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    try:
        deadline = time.monotonic() + wait_seconds  # a bound on waiting, not a speed test
        while not (found := SERVING.search(output.text)):
            assert process.poll() is None, f"the commands stopped:\n{output.text}"
            assert time.monotonic() < deadline, f"no server after {wait_seconds} s:\n{output.text}"
            time.sleep(0.5)
        base = found.group(1)
        assert wait_for_port(urlsplit(base).port or 80, timeout=60), output.text
        yield base, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        output.thread.join(timeout=10)


@pytest.fixture
def fresh_project() -> Iterator[None]:
    """The Alembic project and env.py's URL variable, loaded anew before the test and after."""
    from dashboard.history.project import forget_projects
    from dashboard.history.url_variable import forget_detected

    forget_projects()
    forget_detected()
    yield
    forget_projects()
    forget_detected()
