"""The Alembic project the console manages: its settings, config and ScriptDirectory.

Any Alembic project works, not only this one: ALEMBIC_CONFIG names its ini file,
ALEMBIC_WORKDIR the folder its commands run in, ALEMBIC_PYTHONPATH the folders its env.py and
revision scripts import from, and ALEMBIC_URL_ENV the variable its env.py reads the URL from
(found by running env.py with a sentinel URL when unset, see url_variable.py).
The revision scripts are loaded in-process (that is how Alembic reads history) and kept per
process until a file under the script folders changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from django.conf import settings

from dashboard.history.url_variable import detect_url_variable
from dashboard.project_imports import add_project_import_paths, project_import_paths

logger = logging.getLogger(__name__)

# The variable a URL is handed over in when env.py's could not be told (the setup checks say
# so); env.py files that take sqlalchemy.url from the ini get it there whatever the name.
UNDETECTED_URL_ENV = "DATABASE_URL"


class ProjectError(Exception):
    """The Alembic project cannot be loaded; says which setting and what was found."""

    def __init__(self, sentence: str, setting: str = "", found: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.setting = setting
        self.found = found
        self.detail = found or sentence


@dataclass(frozen=True)
class ProjectSettings:
    """Where the Alembic project is and how its commands run."""

    config_path: Path
    workdir: Path
    pythonpath: tuple[str, ...]
    url_env: str
    version_table: str
    version_schema: str
    timeout_s: int
    offline_timeout_s: int
    lock_timeout: str

    @property
    def key(self) -> str:
        """Return a short stable id of the project (cache key of generated SQL, trial runs)."""
        return hashlib.sha256(str(self.config_path).encode()).hexdigest()[:16]


def project_settings() -> ProjectSettings:
    """Return the project's settings, with paths made absolute."""
    config_path = Path(settings.ALEMBIC_CONFIG).expanduser()
    workdir_setting = str(getattr(settings, "ALEMBIC_WORKDIR", "") or "")
    workdir = Path(workdir_setting).expanduser() if workdir_setting else config_path.parent
    if not config_path.is_absolute():
        config_path = (workdir / config_path) if workdir_setting else config_path.resolve()
    pythonpath = project_import_paths()
    from dashboard.target import target_schema

    return ProjectSettings(
        config_path=config_path.resolve(),
        workdir=workdir.resolve(),
        pythonpath=pythonpath,
        url_env=str(getattr(settings, "ALEMBIC_URL_ENV", "") or "").strip(),
        version_table=str(getattr(settings, "ALEMBIC_VERSION_TABLE", "alembic_version")),
        version_schema=str(getattr(settings, "ALEMBIC_VERSION_SCHEMA", "") or target_schema()),
        timeout_s=int(getattr(settings, "ALEMBIC_TIMEOUT_S", 600)),
        offline_timeout_s=int(getattr(settings, "ALEMBIC_OFFLINE_TIMEOUT_S", 60)),
        lock_timeout=str(getattr(settings, "MIGRATION_LOCK_TIMEOUT", "5s")),
    )


@dataclass(frozen=True)
class Project:
    """A loaded Alembic project."""

    settings: ProjectSettings
    config: Config
    script: ScriptDirectory
    fingerprint: str

    @property
    def key(self) -> str:
        return self.settings.key

    @property
    def script_location(self) -> Path:
        return Path(self.script.dir)

    def file_hash(self, path: str | Path) -> str:
        """Return the sha256 of one revision file plus env.py (what offline SQL depends on)."""
        digest = hashlib.sha256()
        for file in (Path(path), self.script_location / "env.py"):
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"(missing)")
        return digest.hexdigest()


def _config(project: ProjectSettings) -> Config:
    """Return the parsed Alembic Config, or raise ProjectError naming ALEMBIC_CONFIG."""
    if not project.config_path.is_file():
        raise ProjectError(
            f"ALEMBIC_CONFIG points to {project.config_path}, which is not a file. "
            "Set ALEMBIC_CONFIG to the project's alembic.ini.",
            setting="ALEMBIC_CONFIG",
            found="no such file",
        )
    if not project.workdir.is_dir():
        raise ProjectError(
            f"ALEMBIC_WORKDIR is {project.workdir}, which is not a folder.",
            setting="ALEMBIC_WORKDIR",
            found="no such folder",
        )
    config = Config(str(project.config_path))
    try:
        location = config.get_main_option("script_location")
    except Exception as exc:  # configparser raises several types for a malformed file
        raise ProjectError(
            f"ALEMBIC_CONFIG ({project.config_path}) could not be read as an ini file: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            setting="ALEMBIC_CONFIG",
            found=f"{type(exc).__name__}",
        ) from None
    if not location:
        raise ProjectError(
            f"ALEMBIC_CONFIG ({project.config_path}) has no script_location in its [alembic] "
            "section, so the console cannot find the migrations.",
            setting="ALEMBIC_CONFIG",
            found="no script_location",
        )
    # A relative script_location is relative to the folder Alembic runs in, not ours.
    if ":" not in location and not Path(location).is_absolute():
        location = str(project.workdir / location)
        config.set_main_option("script_location", location.replace("%", "%%"))
    if ":" not in location and not Path(location).is_dir():
        raise ProjectError(
            f"The script_location of {project.config_path} is {location}, which is not a "
            "folder. Check ALEMBIC_CONFIG and ALEMBIC_WORKDIR.",
            setting="ALEMBIC_CONFIG",
            found=f"script_location = {location}",
        )
    return config


def _fingerprint(project: ProjectSettings, location: Path) -> str:
    """Return a hash of the names, sizes and times of the project's files."""
    digest = hashlib.sha256(str(project).encode())
    files = [project.config_path, *sorted(location.rglob("*.py"))]
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            continue
        digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


_lock = threading.Lock()
_loaded: dict[str, Project] = {}


def _with_url_env(project: ProjectSettings, location: Path) -> ProjectSettings:
    """Return the settings with url_env filled in from env.py when ALEMBIC_URL_ENV is unset."""
    if project.url_env:
        return project
    detected = detect_url_variable(
        project.config_path, location, project.workdir, project.pythonpath
    )
    return dataclasses.replace(project, url_env=detected.name or UNDETECTED_URL_ENV)


def load_project() -> Project:
    """Return the loaded project (cached until its files change), or raise ProjectError."""
    project = project_settings()
    config = _config(project)
    location = Path(str(config.get_main_option("script_location")))
    project = _with_url_env(project, location)
    fingerprint = _fingerprint(project, location)
    with _lock:
        cached = _loaded.get(project.key)
        if cached and cached.fingerprint == fingerprint:
            return cached
        add_project_import_paths(project.pythonpath)
        try:
            script = ScriptDirectory.from_config(config)
            # Reading the map imports every revision script: errors surface here.
            script.revision_map.heads  # noqa: B018
        except CommandError as exc:
            raise ProjectError(
                f"Alembic could not read the revisions: {exc}",
                setting="ALEMBIC_CONFIG",
                found=str(exc),
            ) from None
        except Exception as exc:
            logger.warning("loading the Alembic revisions failed", exc_info=True)
            raise ProjectError(
                "A revision script could not be loaded: "
                f"{type(exc).__name__}: {exc}. Fix the script, or set ALEMBIC_PYTHONPATH "
                "if it imports the project's own packages.",
                setting="ALEMBIC_PYTHONPATH",
                found=f"{type(exc).__name__}: {exc}",
            ) from None
        finally:
            # prepend_sys_path is applied on every load: keep sys.path from growing.
            sys.path[:] = list(dict.fromkeys(sys.path))
        loaded = Project(project, config, script, fingerprint)
        _loaded[project.key] = loaded
        return loaded


def forget_projects() -> None:
    """Drop the cached projects (tests)."""
    with _lock:
        _loaded.clear()
