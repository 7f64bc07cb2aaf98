"""Read and write `.env` files (KEY=VALUE lines, no shell expansion), mode 600 (secrets)."""

from __future__ import annotations

import os
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """Return KEY=VALUE pairs of a .env file (no shell expansion); {} when there is none."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def write_env_file(path: Path, values: dict[str, str], header: str) -> None:
    """Write `values` to `path` readable by its owner only (created that way, never wider)."""
    body = "".join(f"{key}={value}\n" for key, value in values.items())
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(comment + body)
    path.chmod(0o600)  # an existing file keeps its mode on open: narrow it too
