"""The managed project's own modules are imported from the folders of ALEMBIC_PYTHONPATH.

Everything that imports the project's code in the console's process (its revision scripts, its
SQLModel models for the drift check, the setup checks) goes through this one helper, so the
folders are on the import path whichever page is visited first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def project_import_paths() -> tuple[str, ...]:
    """Return the folders of ALEMBIC_PYTHONPATH (os.pathsep-separated), made absolute."""
    from django.conf import settings

    raw = str(getattr(settings, "ALEMBIC_PYTHONPATH", "") or "")
    return tuple(str(Path(p).expanduser().resolve()) for p in raw.split(os.pathsep) if p.strip())


def add_project_import_paths(paths: tuple[str, ...] | None = None) -> None:
    """Put the project's folders first on sys.path (each once)."""
    for path in reversed(project_import_paths() if paths is None else paths):
        if path not in sys.path:
            sys.path.insert(0, path)
