"""A whole console on its own throwaway cluster, run as real processes (gunicorn, workers).

For the tests that stop the database, kill workers or put a pooler in front: the shared test
cluster must not be touched by them. `ThrowawayConsole` prepares a cluster like `make demo`
does (roles, schemas, Alembic head, Django's migrations, an operator) and starts processes
with an environment pointing at it; every process it started is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from core.audit_owner import audit_owner_lent
from core.embedded import CONSOLE_ROLE, Layout, prepare
from core.netports import free_port
from core.pgcluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "schemadesk"
OPERATOR = "operator"
OPERATOR_PASSWORD = "throwaway console 42"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class ThrowawayConsole:
    """A prepared cluster and the processes started against it."""

    root: Path
    cluster: Cluster
    layout: Layout
    settings: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    # -- environment -----------------------------------------------------------------------
    def environment(self, **overrides: str) -> dict[str, str]:
        """Return the environment of a console process on this cluster."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
        env.update(self.layout.environment())
        env.update(
            {
                "DOTENV_FILE": "",
                "SECRET_KEY": "throwaway-console-secret-key-0123456789-abcdefghij",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_COOKIES": "false",
                "STATIC_MANIFEST": "false",
                "BRANCH_PROVIDER": "local",
                "PYTHONUNBUFFERED": "1",
                "WEB_CONCURRENCY": "2",
                "GUNICORN_THREADS": "4",
            }
        )
        env.update(self.settings)
        env.update(overrides)
        return env

    def superuser(self) -> psycopg.Connection:
        """Return an autocommit superuser connection to the console's database."""
        return psycopg.connect(self.cluster.superuser_url(DATABASE), autocommit=True)

    # -- processes -------------------------------------------------------------------------
    def manage(self, *args: str, **overrides: str) -> str:
        """Run `manage.py args` to completion and return its output (fails on error)."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.environment(**overrides),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    def manage_each(self, *commands: tuple[str, ...], **overrides: str) -> None:
        """Run several management commands in one process (Django starts once, not per command)."""
        script = (
            "import json, sys, django; django.setup()\n"
            "from django.core.management import call_command\n"
            "for command in json.loads(sys.argv[1]): call_command(*command)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps(commands)],
            cwd=ROOT,
            env={"DJANGO_SETTINGS_MODULE": "dashboard.settings", **self.environment(**overrides)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]

    def migrate(self) -> None:
        """Create Django's tables and the operator (through whatever DATABASE_URL names).

        As in production, the audit owner is lent to the console's role for the migration.
        """
        with audit_owner_lent(self.cluster.superuser_url(DATABASE), CONSOLE_ROLE):
            self.manage_each(
                ("migrate", "--noinput"),
                ("createcachetable",),
                ("operator_add", OPERATOR, "--role", "admin"),
                OPERATOR_PASSWORD=OPERATOR_PASSWORD,
            )

    def start(self, args: list[str], log_name: str, **overrides: str) -> subprocess.Popen:
        """Start a process (its own process group) writing to a log file in `root`."""
        log = open(self.root / log_name, "ab")  # noqa: SIM115 (closed by stop_all)
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.environment(**overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def start_manage(self, *args: str, log_name: str, **overrides: str) -> subprocess.Popen:
        return self.start([sys.executable, "manage.py", *args], log_name, **overrides)

    def start_web(self, log_name: str = "web.log", **overrides: str) -> str:
        """Start gunicorn (as the Dockerfile does) on a free port; return its URL once serving."""
        port = free_port()
        self.start(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
            log_name,
            PORT=str(port),
            HOST="127.0.0.1",
            **overrides,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base)
        return base

    def log_text(self, log_name: str) -> str:
        return (self.root / log_name).read_text(errors="replace")

    def stop(self, process: subprocess.Popen, timeout: float = 30) -> int:
        """Stop a process this console started (SIGTERM, then SIGKILL) and return its code."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # children left behind, if any
        process.log.close()  # type: ignore[attr-defined]
        return process.returncode

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)
        self.processes.clear()

    def destroy(self) -> None:
        self.stop_all()
        self.cluster.destroy()
        shutil.rmtree(self.root, ignore_errors=True)


def prepared_console(prefix: str, migrate: bool = True, **settings: str) -> ThrowawayConsole:
    """Return a console on a new cluster: layout, Alembic head, Django's tables, an operator.

    With migrate=False Django's tables are left to the test (e.g. to create them through a
    pooler): call `console.migrate()`.
    """
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter 0700 dirs.
    root = Path(tempfile.mkdtemp(prefix=f"schemadesk-{prefix}-"))
    root.chmod(0o755)
    # Durable (not ephemeral): these tests check that nothing committed is lost.
    cluster = Cluster(root / "pg")
    cluster.start(port=free_port())
    console = ThrowawayConsole(root=root, cluster=cluster, layout=prepare(cluster, DATABASE))
    console.settings.update(settings)
    try:
        subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
            cwd=ROOT,
            env=console.environment(),
            capture_output=True,
            check=True,
            timeout=120,
        )
        if migrate:
            console.migrate()
    except BaseException:
        console.destroy()
        raise
    return console


@contextlib.contextmanager
def throwaway_console(
    prefix: str, migrate: bool = True, **settings: str
) -> Iterator[ThrowawayConsole]:
    console = prepared_console(prefix, migrate=migrate, **settings)
    try:
        yield console
    finally:
        console.destroy()


def wait_until_serving(base_url: str, attempts: int = 150, pause: float = 0.2) -> None:
    """Wait until the web server answers /healthz (any status) or fail."""
    for _ in range(attempts):
        try:
            httpx.get(f"{base_url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(pause)
    raise AssertionError(f"nothing answered at {base_url}")


def logged_in_client(base_url: str) -> httpx.Client:
    """Return an httpx client logged in as the throwaway console's operator."""
    client = httpx.Client(base_url=base_url, timeout=15, follow_redirects=False)
    page = client.get("/login/")
    token = CSRF_INPUT.search(page.text)
    assert token, page.text[:500]
    response = client.post(
        "/login/",
        data={
            "username": OPERATOR,
            "password": OPERATOR_PASSWORD,
            "csrfmiddlewaretoken": token.group(1),
        },
        headers={"Referer": f"{base_url}/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def csrf_headers(client: httpx.Client) -> dict[str, str]:
    """Return the headers a POST needs (htmx sends the token the same way)."""
    return {"X-CSRFToken": client.cookies["csrftoken"], "Referer": str(client.base_url) + "/"}


def health_check_started(client: httpx.Client) -> int:
    """Start the example job from the overview (as the button does); return its run id."""
    response = client.post("/jobs/health-check/", headers=csrf_headers(client))
    assert response.status_code == 302, response.status_code
    return int(re.search(r"/jobs/(\d+)/", response.headers["Location"]).group(1))
