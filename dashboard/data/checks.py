"""System check: the display settings file (DATA_DISPLAY_FILE) fits the reflected schema.

Runs with `manage.py check`, `runserver` and `migrate`. A file that cannot be read or parsed is
an error; names the schema does not have are warnings (the pages ignore them, and a pending
migration may be about to add them). When the target database cannot be reached, the check
warns instead of failing, so the console still starts.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from dashboard.data.display import (
    DisplayFileError,
    display_file,
    display_problems,
    load_display_file,
)

CHECK_TAG = "schemadesk"


@register(CHECK_TAG)
def check_display_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Return the problems of the display settings file, naming each table and column."""
    path = display_file()
    if path is None:
        return []
    try:
        displays = load_display_file(path)
    except DisplayFileError as exc:
        return [
            Error(
                str(exc),
                hint="Fix the file or unset DATA_DISPLAY_FILE.",
                id="data.E001",
            )
        ]
    from dashboard.schema.reflection import reflection
    from dashboard.target import TargetError

    try:
        tables = reflection().tables
    except TargetError as exc:
        return [
            Warning(
                f"The display settings in {path} were not checked against the schema: "
                f"{exc.sentence}",
                id="data.W001",
            )
        ]
    return [
        Warning(problem, hint=f"Edit {path}.", id="data.W002")
        for problem in display_problems(displays, tables)
    ]
