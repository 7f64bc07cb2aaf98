"""`serve_console` as `make demo` runs it: the real gunicorn's access log and the console's own
log lines carry no end-user id, and a %0A or %0D in a path cannot forge a line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import Client

from core.netports import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SECRET_IDS = ("user_secret_7f3a", "alice smith@example.com", "acc_export_91")
FORGED = '127.0.0.1 "GET /admin/'  # what the %0A / %0D paths try to start a line with
ACCESS_LINE = re.compile(r'^\S+ "(GET|POST|HEAD) [^"]*" \d{3} \S+ \d+ms$')


class Console:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
        self.requests = 0
        env = {
            **os.environ,
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve_console",
                "--strict-port",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.stdout_path.open("wb"),
            stderr=self.stderr_path.open("wb"),
            start_new_session=True,
        )

    def wait_until_up(self, client: httpx.Client) -> None:
        for _ in range(150):
            if self.process.poll() is not None:
                pytest.fail(f"serve_console exited: {self.stderr_path.read_text()[-2000:]}")
            try:
                self.get(client, "/healthz")
                return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail("gunicorn did not answer within 15 s")

    def get(self, client: httpx.Client, raw_path: str) -> httpx.Response:
        # httpx keeps an already %-encoded path as it is: %0A goes on the wire as %0A.
        response = client.get(self.url + raw_path)
        self.requests += 1
        return response

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.stdout_path.read_text(), self.stderr_path.read_text()


@pytest.fixture
def console(tmp_path) -> Iterator[Console]:
    running = Console(tmp_path)
    yield running
    running.stop()


def log_in(client: httpx.Client, user) -> None:
    """Give the HTTP client a session of `user` (the test's password hasher is not the server's)."""
    session = Client()
    session.force_login(user)
    client.cookies.set("sessionid", session.cookies["sessionid"].value)


def test_the_real_access_log_has_no_user_ids_and_no_forged_lines(console, operator_factory):
    support = operator_factory("sue-logs", "support")
    with httpx.Client(timeout=20) as client:
        log_in(client, support)
        console.wait_until_up(client)
        assert console.get(client, "/users/").status_code == 200
        statuses = [
            console.get(client, "/users/u/user_secret_7f3a/").status_code,
            console.get(client, "/users/u/alice%20smith%40example.com/").status_code,
            console.get(client, "/users/export/acc_export_91/").status_code,
            console.get(client, "/users/u/user_secret_7f3a%0A" + "x/").status_code,
            console.get(
                client, "/nothing%0A127.0.0.1%20%22GET%20/admin/%22%20200%200%200ms"
            ).status_code,
            console.get(
                client, "/schema/x%0D%0A127.0.0.1%20%22GET%20/admin/%22%20200%200%200ms"
            ).status_code,
        ]
    stdout, stderr = console.stop()
    assert all(status < 500 for status in statuses), statuses
    for secret in SECRET_IDS:
        assert secret not in stdout and secret not in stderr
    assert "smith" not in stdout + stderr

    access = [line for line in stdout.splitlines() if ACCESS_LINE.match(line)]
    # One line per request, whatever the path held; nothing else looks like an access line.
    assert len(access) == console.requests
    assert sum(line.count('"GET /users/u/[redacted]"') for line in access) == 3
    assert any('"GET /users/export/[redacted]"' in line for line in access)
    assert any("/nothing%0A127.0.0.1%20%22GET%20/admin/%22" in line for line in access)
    assert any("/schema/x%0D%0A127.0.0.1" in line for line in access)
    for output in (stdout, stderr):
        lines = output.splitlines()
        assert not any(line.startswith(FORGED) for line in lines)
        assert "\r" not in output
    # Django's own line for the 404 is escaped, on one line.
    assert "Not Found: /nothing\\n127.0.0.1" in stderr
