"""Optional per-table display settings, read from the file named by DATA_DISPLAY_FILE.

The file is JSON (`.json`) or TOML (anything else) with one entry per table:

    [tables.tasks]
    list_columns = ["id", "title", "completed", "created_at"]   # shown by default in lists
    search_columns = ["title", "description"]                    # what the search box looks in
    default_order = "-created_at"                                # "-" means descending
    hidden_columns = ["description"]                             # never shown or exported
    unmasked_columns = ["sort_key"]                              # shown although it looks secret

Every key is optional. The file is checked against the reflected schema by a system check
(`dashboard/data/checks.py`); at run time a name that does not exist is ignored.
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from django.conf import settings
from sqlalchemy import Table

from dashboard.data.columns import column_kind

logger = logging.getLogger(__name__)

LIST_KEYS = ("list_columns", "search_columns", "hidden_columns", "unmasked_columns")


class DisplayFileError(Exception):
    """The display file cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class TableDisplay:
    """How one table is shown; empty means the defaults."""

    list_columns: tuple[str, ...] = ()
    search_columns: tuple[str, ...] = ()
    default_order: str = ""
    hidden_columns: tuple[str, ...] = ()
    unmasked_columns: tuple[str, ...] = ()

    @property
    def order_column(self) -> str:
        return self.default_order.removeprefix("-")

    @property
    def order_descending(self) -> bool:
        return self.default_order.startswith("-")


DEFAULT = TableDisplay()
_cache: dict[str, Any] = {"key": None, "tables": {}}
_lock = threading.Lock()


def display_file() -> Path | None:
    """Return the configured display file, or None when DATA_DISPLAY_FILE is not set."""
    name = str(getattr(settings, "DATA_DISPLAY_FILE", "") or "")
    return Path(name) if name else None


def parse_display(data: Any, source: str) -> dict[str, TableDisplay]:
    """Return the TableDisplay per table from parsed file contents, or raise DisplayFileError."""
    if not isinstance(data, Mapping) or set(data) - {"tables"}:
        raise DisplayFileError(f"{source}: expected one top-level key “tables”.")
    tables = data.get("tables", {})
    if not isinstance(tables, Mapping):
        raise DisplayFileError(f"{source}: “tables” must map table names to settings.")
    known = {f.name for f in fields(TableDisplay)}
    result: dict[str, TableDisplay] = {}
    for table, entry in tables.items():
        where = f"{source}, table “{table}”"
        if not isinstance(entry, Mapping):
            raise DisplayFileError(f"{where}: expected a table of settings.")
        unknown = sorted(set(entry) - known)
        if unknown:
            raise DisplayFileError(
                f"{where}: unknown setting(s) {', '.join(unknown)}; "
                f"known settings are {', '.join(sorted(known))}."
            )
        values: dict[str, Any] = {}
        for key in LIST_KEYS:
            items = entry.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise DisplayFileError(f"{where}: “{key}” must be a list of column names.")
            values[key] = tuple(items)
        order = entry.get("default_order", "")
        if not isinstance(order, str):
            raise DisplayFileError(f"{where}: “default_order” must be a column name.")
        values["default_order"] = order
        result[str(table)] = TableDisplay(**values)
    return result


def load_display_file(path: Path) -> dict[str, TableDisplay]:
    """Return the settings in `path`, or raise DisplayFileError saying what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DisplayFileError(
            f"DATA_DISPLAY_FILE names {path}, which cannot be read ({exc.strerror})."
        ) from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DisplayFileError(f"{path} is not valid {_format(path)}: {exc}") from None
    return parse_display(data, str(path))


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "TOML"


def all_displays() -> dict[str, TableDisplay]:
    """Return the settings of every configured table (empty without a file or if it is bad)."""
    path = display_file()
    if path is None:
        return {}
    key: tuple[str, int | None]
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        key = (str(path), None)
    with _lock:
        if _cache["key"] != key:
            try:
                tables = load_display_file(path)
            except DisplayFileError as exc:
                # The system check reports it at start-up; pages fall back to the defaults.
                logger.error("display settings ignored: %s", exc)
                tables = {}
            _cache["key"], _cache["tables"] = key, tables
        return dict(_cache["tables"])


def display_for(table_name: str) -> TableDisplay:
    """Return the display settings of one table (the defaults when it has none)."""
    return all_displays().get(table_name, DEFAULT)


def display_problems(
    displays: Mapping[str, TableDisplay], tables: Mapping[str, Table]
) -> list[str]:
    """Return a sentence per setting that names a table or column the schema does not have."""
    problems: list[str] = []
    for name, display in sorted(displays.items()):
        table = tables.get(name)
        if table is None:
            problems.append(f"Display settings name table “{name}”, which does not exist.")
            continue
        for key in LIST_KEYS:
            for column in getattr(display, key):
                if column not in table.c:
                    problems.append(
                        f"Display settings of table “{name}”: {key} names column “{column}”, "
                        "which does not exist."
                    )
        for column in display.search_columns:
            if column in table.c and column_kind(table.c[column]) != "text":
                problems.append(
                    f"Display settings of table “{name}”: search column “{column}” is not a "
                    "text column, so the search cannot look into it."
                )
        if display.default_order:
            column = display.order_column
            if column not in table.c:
                problems.append(
                    f"Display settings of table “{name}”: default_order names column "
                    f"“{column}”, which does not exist."
                )
    return problems
