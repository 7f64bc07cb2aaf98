"""What `connect` learns about the operator's Alembic project before the console is configured.

Django-free: it runs before the settings exist. The ini file (given directly or as the folder
holding alembic.ini), the folders its code imports from (its `prepend_sys_path`, else its own
folder), and from one sentinel run of its env.py the variable the URL is read from and the
modules defining the models of its `target_metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config

from dashboard.history.url_variable import UrlVariable, detect_url_variable


class ProjectNotFound(Exception):
    """The path given is not an Alembic project; the message says what was found."""


@dataclass(frozen=True)
class ProjectFacts:
    """The Alembic project as the console's settings will name it."""

    config_path: Path
    script_location: Path
    pythonpath: tuple[str, ...]
    url: UrlVariable

    @property
    def models_module(self) -> str:
        """Return the module to import for the drift check ('' when none was seen)."""
        modules = self.url.model_modules
        if len(modules) == 1:
            return modules[0]
        # Several modules (app.models.user, app.models.task): their common package imports
        # them when env.py imported only that package; the checklist confirms by importing.
        common = _common_package(modules)
        return common or (modules[0] if modules else "")


def _common_package(modules: tuple[str, ...]) -> str:
    if not modules:
        return ""
    parts = [module.split(".") for module in modules]
    shared = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        shared.append(names[0])
    return ".".join(shared)


def config_path_of(given: str) -> Path:
    """Return the ini file named by `given` (the file itself, or a folder with alembic.ini)."""
    path = Path(given).expanduser().resolve()
    if path.is_dir():
        path = path / "alembic.ini"
    if not path.is_file():
        raise ProjectNotFound(
            f"{path} is not a file: give the project's alembic.ini, or the folder holding it."
        )
    return path


def project_facts(given: str) -> ProjectFacts:
    """Return the project's ini, script folder, import folders and what its env.py reads."""
    config_path = config_path_of(given)
    config = Config(str(config_path))
    try:
        location = config.get_main_option("script_location")
        prepend = config.get_prepend_sys_paths_list() or []
    except Exception as exc:  # configparser raises several types for a malformed file
        raise ProjectNotFound(f"{config_path} could not be read: {exc}") from None
    if not location:
        raise ProjectNotFound(f"{config_path} has no script_location in its [alembic] section.")
    here = config_path.parent
    script_location = (here / location).resolve()
    if not (script_location / "env.py").is_file():
        raise ProjectNotFound(f"There is no env.py in {script_location} (script_location).")
    # Alembic runs from the ini's folder: relative import folders are relative to it.
    pythonpath = tuple(str((here / entry).resolve()) for entry in prepend) or (str(here),)
    url = detect_url_variable(config_path, script_location, here, pythonpath)
    return ProjectFacts(config_path, script_location, pythonpath, url)
