"""The environment variable the managed project's env.py reads its database URL from.

Trial runs and apply hand env.py its URL in that variable, and the printed apply command names
it, so it must be the one env.py really reads (ALEMBIC_URL_ENV; detected when unset). Two ways,
neither a guess: env.py's source is read (`os.environ[...]`, `os.environ.get(...)`,
`os.getenv(...)` with a literal name), then env.py is run in a subprocess with a sentinel URL
in each candidate variable (url_probe.py) to see which one reaches Alembic. The answer is kept
per process until env.py, the ini file or the import paths change.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.branches.dump_restore import clean_child_environment

PROBE = Path(__file__).with_name("url_probe.py")
PROBE_TIMEOUT_S = 60
MAX_CANDIDATES = 12
_ENVIRON_READERS = {"get", "pop", "setdefault"}


@dataclass(frozen=True)
class UrlVariable:
    """What env.py reads its URL from; `name` is "" when that could not be told."""

    name: str
    how: str  # a sentence: how it was found, or why it was not
    read_in_source: tuple[str, ...] = ()
    ini_url: bool = False  # env.py takes sqlalchemy.url from the ini (the console sets it)
    # Seen in the same run: the modules defining the SQLModel tables of env.py's
    # target_metadata (what SCHEMA_MODELS should import for the drift check).
    model_modules: tuple[str, ...] = ()


def _is_environ(node: ast.expr) -> bool:
    """Return True for `os.environ` or a bare `environ`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def variables_read_in_source(source: str) -> tuple[str, ...]:
    """Return the variable names env.py's source reads from the environment, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            name = _literal(node.slice)
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            reads_environ = (
                isinstance(function, ast.Attribute)
                and function.attr in _ENVIRON_READERS
                and _is_environ(function.value)
            )
            getenv = (isinstance(function, ast.Attribute) and function.attr == "getenv") or (
                isinstance(function, ast.Name) and function.id == "getenv"
            )
            if reads_environ or getenv:
                name = _literal(node.args[0])
        if name and isinstance(node, ast.expr):  # a subscript or a call
            found.append((node.lineno, node.col_offset, name))
    return tuple(dict.fromkeys(name for _, _, name in sorted(found)))


def _run_probe(
    config_path: Path,
    script_location: Path,
    workdir: Path,
    pythonpath: tuple[str, ...],
    candidates: tuple[str, ...],
    sentinel_variable: str = "",
) -> dict[str, Any]:
    """Run env.py once in a fresh process (url_probe.py); return what it read and used."""
    spec = {
        "config": str(config_path),
        "script_location": str(script_location),
        "sentinel_variable": sentinel_variable,
    }
    environment = clean_child_environment()
    for name in candidates:
        environment.pop(name, None)  # only the sentinel may reach env.py
    inherited = [environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []
    if pythonpath:
        environment["PYTHONPATH"] = os.pathsep.join([*pythonpath, *inherited])
    out = subprocess.run(
        [sys.executable, "-P", str(PROBE), json.dumps(spec)],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    try:
        return dict(json.loads(out.stdout))
    except ValueError:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exited with status {out.returncode}"}


@dataclass(frozen=True)
class _Found:
    variable: str
    ini_url: bool
    in_source: tuple[str, ...]
    models: tuple[str, ...]
    error: str


def _first_carrier(
    config_path: Path, script_location: Path, workdir: Path, pythonpath: tuple[str, ...]
) -> _Found:
    """Return the variable (and what else the run showed) found by sentinel runs.

    A first run without any URL shows what env.py reads; then each of those variables (and
    the names in its source), in the order read, is set alone to a sentinel until one reaches
    Alembic. Each run is its own process: modules may read the environment at import.
    """
    source = (script_location / "env.py").read_text(errors="replace")
    in_source = variables_read_in_source(source)
    where = (config_path, script_location, workdir, pythonpath)
    first = _run_probe(*where, in_source)
    candidates = tuple(dict.fromkeys([*(first.get("reads") or []), *in_source]))
    ini_url = "sentinel_from_ini" in str(first.get("url") or "")
    for name in candidates[:MAX_CANDIDATES]:
        answer = _run_probe(*where, candidates, sentinel_variable=name)
        if "sentinel_variable" in str(answer.get("url") or ""):
            return _Found(name, ini_url, in_source, tuple(answer.get("models") or ()), "")
    models = tuple(first.get("models") or ())
    # What env.py raised is shown (connect, doctor): never a URL's password it may hold.
    from dashboard.history.commands import redacted  # it imports this module

    return _Found("", ini_url, in_source, models, redacted(str(first.get("error") or "")))


def _key(config_path: Path, script_location: Path, pythonpath: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{config_path}|{pythonpath}".encode())
    for file in (config_path, script_location / "env.py"):
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"(missing)")
    return digest.hexdigest()


_lock = threading.Lock()
_detected: dict[str, UrlVariable] = {}


def detect_url_variable(
    config_path: Path, script_location: Path, workdir: Path, pythonpath: tuple[str, ...] = ()
) -> UrlVariable:
    """Return the variable env.py reads its URL from (cached until the files change)."""
    key = _key(config_path, script_location, pythonpath)
    with _lock:
        if key in _detected:
            return _detected[key]
    if not (script_location / "env.py").is_file():
        return UrlVariable("", f"There is no env.py in {script_location}.")
    try:
        found = _first_carrier(config_path, script_location, workdir, pythonpath)
    except (OSError, subprocess.TimeoutExpired) as exc:
        found = _Found("", False, (), (), f"{type(exc).__name__}: {exc}")
    if found.variable:
        result = UrlVariable(
            found.variable,
            f"env.py was run with a sentinel URL in {found.variable} and used it.",
            found.in_source,
            found.ini_url,
            found.models,
        )
    elif found.ini_url:
        result = UrlVariable(
            "",
            "env.py takes sqlalchemy.url from the ini file; the console sets it for each run.",
            found.in_source,
            True,
            found.models,
        )
    else:
        named = ", ".join(found.in_source) or "no variable by a literal name"
        error = f" ({found.error})" if found.error else ""
        result = UrlVariable(
            "",
            f"Could not tell which variable env.py reads its URL from: its source reads "
            f"{named}, and no variable carried a sentinel URL to Alembic{error}. "
            "Set ALEMBIC_URL_ENV.",
            found.in_source,
        )
    with _lock:
        _detected[key] = result
    return result


def forget_detected() -> None:
    """Drop the cached answers (tests)."""
    with _lock:
        _detected.clear()
