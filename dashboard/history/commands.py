"""Run one Alembic revision step of the managed project in a subprocess, with a timeout.

The child (alembic_runner.py) runs the project's own env.py. Its environment is the console's
minus every database URL, libpq setting and secret, plus the one URL it is meant to use in the
variable named by ALEMBIC_URL_ENV: an env.py reading some other variable finds nothing rather
than the production database. Output is kept as a tail with passwords removed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.engine import mask_passwords
from dashboard.branches.local_provider import clean_child_environment
from dashboard.console_work import APPLICATION_NAME
from dashboard.history.project import ProjectSettings

RUNNER = Path(__file__).with_name("alembic_runner.py")
# Offline SQL needs a dialect, not a server: a URL with no password and no real host.
OFFLINE_URL = "postgresql+psycopg://offline@localhost/offline"
OUTPUT_TAIL_LINES = 40
# "sqlalchemy.exc.ProgrammingError: (psycopg.errors.UndefinedTable) relation ... does not exist"
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Failure|Warning)\b.*:")


@dataclass(frozen=True)
class StepResult:
    """What one subprocess step did."""

    ok: bool
    returncode: int | None
    stdout: str
    log: str  # stderr tail, passwords removed
    seconds: float
    timed_out: bool = False

    @property
    def error_line(self) -> str:
        """Return the exception line of the log (the last one), else its last line."""
        lines = [line.strip() for line in self.log.splitlines() if line.strip()]
        for line in reversed(lines):
            if EXCEPTION_LINE.match(line):
                return line
        return lines[-1] if lines else f"exited with status {self.returncode}"


def redacted(text: str, url: str = "") -> str:
    """Return `text` without URL passwords (and without `url`'s password anywhere)."""
    text = mask_passwords(text)
    password = unquote(urlsplit(url).password or "") if url else ""
    if password:
        text = text.replace(password, "***")
    return text


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def alembic_url(url: str) -> str:
    """Return the URL with the psycopg 3 driver named (plain postgresql:// means psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def step_environment(project: ProjectSettings, url: str) -> dict[str, str]:
    """Return the child's environment: clean, plus the URL, lock timeout and import paths."""
    environment = clean_child_environment()
    pythonpath = [*project.pythonpath]
    if environment.get("PYTHONPATH"):
        pythonpath.append(environment["PYTHONPATH"])
    environment.update(
        {
            project.url_env: url,
            "MIGRATION_LOCK_TIMEOUT": project.lock_timeout,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # libpq's default application_name: an env.py that names none is the console's.
            "PGAPPNAME": APPLICATION_NAME,
        }
    )
    if pythonpath:
        environment["PYTHONPATH"] = os.pathsep.join(pythonpath)
    return environment


def alembic_step(
    project: ProjectSettings,
    script_location: str,
    action: str,
    revision: str,
    *,
    url: str,
    sql: bool = False,
    timeout_s: float | None = None,
) -> StepResult:
    """Run `action` ("upgrade"/"downgrade") of one revision in a subprocess and return how."""
    if action not in ("upgrade", "downgrade"):
        raise ValueError(f"unknown action {action!r}")
    url = alembic_url(url)
    spec = {
        "config": str(project.config_path),
        "script_location": script_location,
        "action": action,
        "revision": revision,
        "sql": sql,
        "url_env": project.url_env,
        "x": {"lock_timeout": project.lock_timeout},
    }
    timeout = timeout_s or (project.offline_timeout_s if sql else project.timeout_s)
    started = time.monotonic()
    try:
        out = subprocess.run(
            [sys.executable, "-P", str(RUNNER), json.dumps(spec)],
            cwd=project.workdir,
            env=step_environment(project, url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return StepResult(
            ok=False,
            returncode=None,
            stdout="",
            log=redacted(tail(partial + f"\nStopped after {timeout:.0f} s (timeout)."), url),
            seconds=round(time.monotonic() - started, 3),
            timed_out=True,
        )
    return StepResult(
        ok=out.returncode == 0,
        returncode=out.returncode,
        stdout=redacted(out.stdout, url),
        log=redacted(tail(out.stderr), url),
        seconds=round(time.monotonic() - started, 3),
    )
