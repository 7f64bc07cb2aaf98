"""PostgreSQL client binaries (pg_dump, pg_restore): find a folder at least as new as the server."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from dashboard.branches.provider import BranchError

logger = logging.getLogger(__name__)

CLIENT_TOOLS = ("pg_dump", "pg_restore")


def _tool_major_version(path: Path) -> int | None:
    """Return the major version printed by `<tool> --version`, or None."""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(path))) or (0,)


def _candidate_bindirs() -> list[Path]:
    """Return folders that may hold pg_dump, best first (PG_BINDIR, the cluster's, PATH, known)."""
    folders: list[Path] = []
    from core.pgcluster import PostgresNotFound, find_bindir

    try:
        folders.append(find_bindir())
    except PostgresNotFound:  # no server binaries is fine: the client tools may be on PATH
        logger.debug("no PostgreSQL server binaries found; looking for client tools on PATH")
    on_path = shutil.which("pg_dump")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    for pattern in ("usr/lib/postgresql/*/bin", "usr/pgsql-*/bin", "opt/homebrew/opt/*/bin"):
        folders.extend(sorted(Path("/").glob(pattern), key=_version_key, reverse=True))
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def client_bindir(server_major: int) -> Path:
    """Return a folder whose pg_dump and pg_restore are at least `server_major`."""
    seen: list[str] = []
    for folder in _candidate_bindirs():
        if not all((folder / tool).is_file() for tool in CLIENT_TOOLS):
            continue
        major = _tool_major_version(folder / "pg_dump")
        seen.append(f"{folder} ({major})")
        if major is not None and major >= server_major:
            return folder
    found = ", ".join(seen) or "none"
    raise BranchError(
        f"pg_dump and pg_restore version {server_major} or newer are needed to clone the "
        f"database (found: {found}). Install the PostgreSQL {server_major} client tools "
        "or set PG_BINDIR to their folder.",
    )
