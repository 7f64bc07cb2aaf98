"""Run an Alembic project's env.py once and report the variables it read and the URL it used.

Usage: python -P url_probe.py '<json spec>' (no Django here; run by url_variable.py with a
clean environment, the project's folder as working directory and its import paths).

env.py runs in Alembic's offline mode with `os.environ` replaced by a mapping that records
every variable read. `EnvironmentContext.configure` and SQLAlchemy's engine factories are
intercepted: the URL that reaches them is captured and the run stops there, so nothing is ever
connected to. The spec may name one variable to set to a sentinel URL; the ini's
`sqlalchemy.url` always holds another sentinel, which shows an env.py taking its URL from
alembic.ini. One run per process: modules env.py imports may read the environment once.

The spec: {"config": ini path, "script_location": folder, "sentinel_variable": name or ""}.
Prints one JSON object: {"reads": [...], "url": str, "models": [...], "error": str}, where
"models" are the modules defining the SQLModel tables of env.py's `target_metadata`.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Iterator, MutableMapping
from types import FrameType
from typing import Any

SENTINEL = "postgresql+psycopg://probe:probe@sentinel.invalid:5432/"
INI_SENTINEL = SENTINEL + "sentinel_from_ini"


class Captured(Exception):
    """The URL env.py handed to Alembic or SQLAlchemy (the run stops there)."""

    def __init__(self, url: str, metadata: Any = None) -> None:
        super().__init__(url)
        self.url = url
        self.metadata = metadata


def _library_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib"))


LIBRARY_FOLDERS = _library_folders()


def _read_by_a_library() -> bool:
    """Return True when the code reading the environment is installed, not the project's."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in (__file__, os.__file__, "<frozen os>"):
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame is not None else ""
    return filename.startswith(LIBRARY_FOLDERS)


class RecordingEnviron(MutableMapping[str, str]):
    """os.environ stand-in that remembers the names read, in order.

    Names the project's own code reads come first, then those read by installed libraries
    (a library may read the URL for the project, but most library reads are its own).
    """

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)
        self.project_reads: list[str] = []
        self.library_reads: list[str] = []

    @property
    def reads(self) -> list[str]:
        return [*self.project_reads, *self.library_reads]

    def _read(self, key: str) -> None:
        if key in self.project_reads or key in self.library_reads:
            return
        (self.library_reads if _read_by_a_library() else self.project_reads).append(key)

    def __getitem__(self, key: str) -> str:
        self._read(key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self._read(key)
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._read(key)
        return key in self._values

    def __setitem__(self, key: str, value: str) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def copy(self) -> dict[str, str]:
        return dict(self._values)


def _url_of(kwargs: dict[str, Any], args: tuple[Any, ...]) -> str:
    if kwargs.get("url") is not None:
        return str(kwargs["url"])
    connection = kwargs.get("connection")
    if connection is not None:
        engine = getattr(connection, "engine", connection)
        return str(getattr(engine, "url", ""))
    return str(args[0]) if args else ""


def _intercept() -> None:
    """Make Alembic's configure and SQLAlchemy's engine factories raise Captured."""
    import sqlalchemy
    import sqlalchemy.engine
    from alembic.runtime.environment import EnvironmentContext

    def configure(self: Any, *args: Any, **kwargs: Any) -> None:
        raise Captured(_url_of(kwargs, ()), kwargs.get("target_metadata"))

    def create_engine(*args: Any, **kwargs: Any) -> None:
        raise Captured(_url_of(kwargs, args))

    def engine_from_config(configuration: dict[str, Any], prefix: str = "sqlalchemy.", **_: Any):
        raise Captured(str(configuration.get(f"{prefix}url", "")))

    EnvironmentContext.configure = configure  # type: ignore[method-assign]  # patched for this run
    for module in (sqlalchemy, sqlalchemy.engine):
        setattr(module, "create_engine", create_engine)  # noqa: B010 - patched for this run
        setattr(module, "engine_from_config", engine_from_config)  # noqa: B010


def _model_modules(metadata: Any) -> list[str]:
    """Return the modules defining SQLModel classes mapped to tables of `metadata`."""
    if metadata is None or "sqlmodel" not in sys.modules:
        return []
    from sqlmodel import SQLModel

    tables = set(getattr(metadata, "tables", {}).values())
    mappers = SQLModel._sa_registry.mappers
    return sorted({m.class_.__module__ for m in mappers if m.local_table in tables})


def _run_env(spec: dict[str, Any], environ: RecordingEnviron) -> tuple[str, list[str], str]:
    """Run env.py once in offline mode with `environ`; return the URL it used, the modules of
    the models its target_metadata holds, and what it raised instead ('', [], error)."""
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    os.environ = environ  # type: ignore[assignment]  # noqa: B003 - replaced on purpose: reads are recorded
    config = Config(spec["config"])
    config.set_main_option("script_location", spec["script_location"].replace("%", "%%"))
    config.set_main_option("sqlalchemy.url", INI_SENTINEL)
    script = ScriptDirectory.from_config(config)
    try:
        with EnvironmentContext(config, script, fn=lambda rev, context: [], as_sql=True):
            script.run_env()
    except Captured as captured:
        return captured.url, _model_modules(captured.metadata), ""
    except BaseException as exc:  # env.py failed without that URL: said when none carries one
        return "", [], f"env.py raised {type(exc).__name__}: {exc}"
    return "", [], ""


def probe(spec: dict[str, Any], base: dict[str, str]) -> dict[str, Any]:
    """Return the variables env.py read and the URL it handed over."""
    _intercept()
    values = dict(base)
    if spec.get("sentinel_variable"):
        values[spec["sentinel_variable"]] = SENTINEL + "sentinel_variable"
    environ = RecordingEnviron(values)
    url, models, error = _run_env(spec, environ)
    return {"reads": environ.reads, "url": url, "models": models, "error": error}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0])
    base = dict(os.environ)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # whatever env.py prints must not mix with the answer
    try:
        answer = probe(spec, base)
    except Exception as exc:
        answer = {"reads": [], "url": "", "models": [], "error": f"{exc!r}"}
    real_stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
