"""Drift: does the live target schema match the SQLModel models? Told as sentences.

The models are those registered on `sqlmodel.SQLModel.metadata` once the module named by the
`SCHEMA_MODELS` setting is imported. The comparison is Alembic's own autogenerate comparison
(`alembic.autogenerate.compare_metadata`), run on a read-only connection whose `search_path` is
only the target schema, so the models' unqualified tables are compared with that schema and
nothing else. Tables the models do not define are reported by name without being reflected
(reflecting hundreds of unrelated tables would be slow and tell nothing more). The report is
made once per schema fingerprint (the reflection's) and kept until the schema changes.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from django.conf import settings
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.dialects import postgresql

from core.engine import mask_passwords
from dashboard.project_imports import add_project_import_paths
from dashboard.schema.reflection import reflection
from dashboard.target import run_read, target_schema

logger = logging.getLogger(__name__)

DRIFT_TIMEOUT_MS = 30_000
SHOWN_DIFFERENCES = 50  # a page lists these; the rest are counted
_lock = threading.Lock()
_compared: dict[tuple[str, str, str, tuple[str, ...]], DriftReport] = {}


@dataclass(frozen=True)
class Difference:
    """One way the database differs from the models, with a sentence for the operator."""

    kind: str
    table: str
    sentence: str
    column: str = ""

    @property
    def label(self) -> str:
        """Return 'missing' (in the models only), 'extra' (in the database only) or 'changed'."""
        if self.kind.startswith("missing_"):
            return "missing"
        if self.kind.startswith("extra_"):
            return "extra"
        return "changed"


@dataclass(frozen=True)
class DriftReport:
    """The outcome of comparing the models with the database; `ok` when they agree."""

    models_module: str  # "" when no models module is configured: the check is off
    schema: str
    differences: list[Difference] = field(default_factory=list)
    error: str = ""  # why the comparison could not run (e.g. the models did not import)

    @property
    def off(self) -> bool:
        """Return True when SCHEMA_MODELS names no module, so nothing was compared."""
        return not self.models_module

    @property
    def ok(self) -> bool:
        return not self.error and not self.differences

    @property
    def shown(self) -> list[Difference]:
        """Return the differences a page lists (the first SHOWN_DIFFERENCES)."""
        return self.differences[:SHOWN_DIFFERENCES]

    @property
    def not_shown(self) -> int:
        return max(0, len(self.differences) - SHOWN_DIFFERENCES)

    @property
    def extra_tables_not_shown(self) -> int:
        return sum(1 for d in self.differences[SHOWN_DIFFERENCES:] if d.kind == "extra_table")

    @property
    def counts(self) -> dict[str, int]:
        """Return how many differences are 'missing', 'extra' and 'changed' (zeros left out)."""
        found = {"missing": 0, "extra": 0, "changed": 0}
        for difference in self.differences:
            found[difference.label] += 1
        return {label: count for label, count in found.items() if count}


def models_module_name() -> str:
    """Return the dotted name of the module defining the models (SCHEMA_MODELS; "" = off)."""
    return str(getattr(settings, "SCHEMA_MODELS", "") or "").strip()


def models_metadata(module_name: str) -> MetaData:
    """Import `module_name` and return the SQLModel metadata its models registered on.

    The module is imported the way the project's Alembic scripts are: with the folders of
    ALEMBIC_PYTHONPATH on the import path.
    """
    add_project_import_paths()
    importlib.import_module(module_name)
    from sqlmodel import SQLModel

    return SQLModel.metadata


_import_failures_logged: set[str] = set()


def _log_import_failure_once(module_name: str, exc: Exception) -> None:
    """Log why the models did not import, with the traceback once per process and cause."""
    key = f"{module_name}:{type(exc).__name__}:{exc}"
    if key in _import_failures_logged:
        return
    _import_failures_logged.add(key)
    logger.warning("schema drift: importing %s failed", module_name, exc_info=exc)


def _comparable(metadata: MetaData, schema: str) -> MetaData:
    """Return the model tables that live in `schema`, as unqualified tables."""
    if all(table.schema is None for table in metadata.tables.values()):
        return metadata
    # Models naming the target schema explicitly are compared as unqualified tables (that is
    # how the search_path shows them); models of other schemas are out of scope.
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        if table.schema in (None, schema):
            # None: the copy is unqualified (accepted at run time; SQLAlchemy's hints omit it).
            table.to_metadata(copy, schema=None)  # type: ignore[arg-type]
    return copy


def _type(value: Any) -> str:
    try:
        return str(value.compile(dialect=postgresql.dialect()))
    except Exception:  # a type the dialect cannot render: its Python name still helps
        return str(value)


def _default(value: Any) -> str:
    if value is None or value is False:
        return "no default"
    argument = getattr(value, "arg", value)
    return f"default {getattr(argument, 'text', argument)}"


def _columns(items: Any) -> str:
    names = []
    for item in items:
        names.append(str(getattr(item, "name", item)))
    return ", ".join(names)


def _table_name(item: Any) -> str:
    table = getattr(item, "table", None)
    if table is None:
        table = getattr(item, "parent", None)
    return str(getattr(table, "name", "?"))


def _foreign_key(constraint: Any) -> tuple[str, str]:
    """Return (table, 'name: table(cols) → other(cols)') for a ForeignKeyConstraint."""
    table = _table_name(constraint)
    targets = [element.target_fullname for element in constraint.elements]
    referred = targets[0].rsplit(".", 1)[0] if targets else "?"
    referred_columns = ", ".join(target.rsplit(".", 1)[-1] for target in targets)
    described = (
        f"“{constraint.name or 'unnamed'}” {table}({', '.join(constraint.column_keys)}) → "
        f"{referred}({referred_columns})"
    )
    return table, described


FOREIGN_KEY_OPTIONS = (
    ("ondelete", "ON DELETE"),
    ("onupdate", "ON UPDATE"),
    ("deferrable", "DEFERRABLE"),
    ("initially", "INITIALLY"),
)


def _option(constraint: Any, name: str) -> str:
    """Return a foreign key option as Postgres spells it (no option = its default)."""
    value = getattr(constraint, name, None)
    if name == "deferrable":
        return "DEFERRABLE" if value else "NOT DEFERRABLE"
    if name == "initially":
        return str(value or "IMMEDIATE").upper()
    return str(value or "NO ACTION").upper()


def _foreign_key_shape(constraint: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    targets = tuple(element.target_fullname for element in constraint.elements)
    return _table_name(constraint), tuple(constraint.column_keys), targets


def _foreign_keys_changed_in_place(diffs: list[Any]) -> tuple[list[Any], list[Difference]]:
    """Return the diffs without FKs that were only re-worded, and one sentence for each.

    Alembic reports a foreign key whose options differ (ON DELETE, ON UPDATE, DEFERRABLE) as
    one key removed and one added, though it is the same key on the same columns: say once
    what differs instead.
    """
    removed = {
        _foreign_key_shape(diff[1]): diff
        for diff in diffs
        if isinstance(diff, tuple) and diff[0] == "remove_fk"
    }
    added = {
        _foreign_key_shape(diff[1]): diff
        for diff in diffs
        if isinstance(diff, tuple) and diff[0] == "add_fk"
    }
    paired = removed.keys() & added.keys()
    changed = []
    for shape in sorted(paired):
        database, model = removed[shape][1], added[shape][1]
        table, described = _foreign_key(model)
        what = [
            f"{label} is {_option(database, name)} in the database but "
            f"{_option(model, name)} in the model"
            for name, label in FOREIGN_KEY_OPTIONS
            if _option(database, name) != _option(model, name)
        ]
        if database.name and model.name and database.name != model.name:
            what.append(f"it is named “{database.name}” in the database")
        sentence = f"Foreign key {described} differs: {'; '.join(what) or 'its definition'}."
        changed.append(Difference("foreign_key_mismatch", table, sentence))
    pairs = [removed[shape] for shape in paired] + [added[shape] for shape in paired]
    kept = [diff for diff in diffs if not any(diff is pair for pair in pairs)]
    return kept, changed


def _column_difference(diff: tuple) -> Difference:
    kind, _schema, table, column, _existing, database_value, model_value = diff
    where = f"Column “{table}.{column}”"
    if kind == "modify_type":
        return Difference(
            "type_mismatch",
            table,
            f"{where} is {_type(database_value)} in the database but "
            f"{_type(model_value)} in the model.",
            column,
        )
    if kind == "modify_nullable":
        database, model = ("nullable", "NOT NULL") if database_value else ("NOT NULL", "nullable")
        return Difference(
            "nullability_mismatch",
            table,
            f"{where} is {database} in the database but {model} in the model.",
            column,
        )
    if kind == "modify_default":
        return Difference(
            "default_mismatch",
            table,
            f"{where} has {_default(database_value)} in the database but "
            f"{_default(model_value)} in the model.",
            column,
        )
    if kind == "modify_comment":
        return Difference(
            "comment_mismatch",
            table,
            f"{where} has comment {database_value!r} in the database but {model_value!r} "
            "in the model.",
            column,
        )
    return Difference(kind, table, f"{where} differs from the model ({kind}).", column)


def describe(diff: Any) -> list[Difference]:
    """Return sentences for one entry of Alembic's `compare_metadata` result."""
    if isinstance(diff, list):  # column changes come grouped per column
        return [_column_difference(item) for item in diff]
    kind = diff[0]
    if kind == "add_table":
        table = diff[1]
        return [
            Difference(
                "missing_table",
                table.name,
                f"Table “{table.name}” is defined in the models but does not exist "
                "in the database.",
            )
        ]
    if kind == "remove_table":
        table = diff[1]
        return [
            Difference(
                "extra_table",
                table.name,
                f"Table “{table.name}” exists in the database but no model defines it.",
            )
        ]
    if kind in ("add_column", "remove_column"):
        _kind, _schema, table, column = diff
        if kind == "add_column":
            sentence = (
                f"Column “{table}.{column.name}” ({_type(column.type)}) is defined in the model "
                "but missing from the database."
            )
            return [Difference("missing_column", table, sentence, column.name)]
        sentence = (
            f"Column “{table}.{column.name}” ({_type(column.type)}) exists in the database "
            "but not in the model."
        )
        return [Difference("extra_column", table, sentence, column.name)]
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        table = _table_name(index)
        described = f"Index “{index.name}” on {table}({_columns(index.expressions)})"
        if kind == "add_index":
            sentence = f"{described} is defined in the models but missing from the database."
            return [Difference("missing_index", table, sentence)]
        return [
            Difference(
                "extra_index", table, f"{described} exists in the database but not in the models."
            )
        ]
    if kind in ("add_fk", "remove_fk"):
        table, described = _foreign_key(diff[1])
        if kind == "add_fk":
            sentence = (
                f"Foreign key {described} is defined in the models but missing from the database."
            )
            return [Difference("missing_foreign_key", table, sentence)]
        sentence = f"Foreign key {described} exists in the database but not in the models."
        return [Difference("extra_foreign_key", table, sentence)]
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        table = _table_name(constraint)
        label = type(constraint).__name__.replace("Constraint", "").lower() or "constraint"
        described = (
            f"{label.capitalize()} constraint “{constraint.name or 'unnamed'}” on "
            f"{table}({_columns(constraint.columns)})"
        )
        if kind == "add_constraint":
            sentence = f"{described} is defined in the models but missing from the database."
            return [Difference("missing_constraint", table, sentence)]
        sentence = f"{described} exists in the database but not in the models."
        return [Difference("extra_constraint", table, sentence)]
    if kind in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        return [
            Difference(
                "comment_mismatch",
                table.name,
                f"The comment of table “{table.name}” differs between the database and the model.",
            )
        ]
    return [Difference(str(kind), "", f"The database differs from the models: {kind}.")]


def ignored_tables() -> frozenset[str]:
    """Return the tables that are bookkeeping, not drift: Alembic's version table."""
    return frozenset(
        {"alembic_version", str(getattr(settings, "ALEMBIC_VERSION_TABLE", "alembic_version"))}
    )


def compare(conn: Connection, metadata: MetaData, schema: str) -> list[Difference]:
    """Return the differences between `metadata` and `schema`, seen through `conn`."""
    model_tables = {table.name for table in metadata.tables.values()}
    ignored = ignored_tables()
    extra_tables: set[str] = set()

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ != "table" or name is None:
            return True
        if name in ignored:
            return False
        if name not in model_tables:
            extra_tables.add(name)
            return False
        return True

    # Only the target schema is visible, so Alembic's default-schema comparison sees it alone.
    conn.execute(
        text("SELECT set_config('search_path', quote_ident(:schema), true)"), {"schema": schema}
    )
    context = MigrationContext.configure(
        connection=conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_schemas": False,
            "include_name": include_name,
        },
    )
    diffs, changed_keys = _foreign_keys_changed_in_place(compare_metadata(context, metadata))
    found = changed_keys + [item for diff in diffs for item in describe(diff)]
    missing = {d.table for d in found if d.kind == "missing_table"}
    # A missing table's indexes and keys are missing too; saying so again is only noise.
    differences = [d for d in found if d.table not in missing or d.kind == "missing_table"]
    differences.extend(
        Difference(
            "extra_table",
            name,
            f"Table “{name}” exists in the database but no model defines it.",
        )
        for name in extra_tables
    )
    return sorted(differences, key=lambda d: (d.table, d.kind, d.column, d.sentence))


def drift_report(
    lock_timeout_ms: int | None = None, *, timeout_ms: int = DRIFT_TIMEOUT_MS
) -> DriftReport:
    """Return how the target schema differs from the models named by SCHEMA_MODELS.

    Raises TargetError when the database cannot be read or the comparison takes longer than
    `timeout_ms`; reflecting a table waits behind an exclusive lock on it for `lock_timeout_ms`
    (default: the TARGET setting).
    """
    module_name = models_module_name()
    schema = target_schema()
    if not module_name:
        return DriftReport("", schema)
    try:
        metadata = _comparable(models_metadata(module_name), schema)
    except Exception as exc:  # any failure to import the models is shown, not raised
        _log_import_failure_once(module_name, exc)
        return DriftReport(
            module_name,
            schema,
            error=(
                f"The models module “{module_name}” (setting SCHEMA_MODELS) could not be "
                f"imported: {mask_passwords(f'{type(exc).__name__}: {exc}')}. Set SCHEMA_MODELS "
                "to the dotted path "
                "of the module that defines the SQLModel tables."
            ),
        )
    if not metadata.tables:
        return DriftReport(
            module_name,
            schema,
            error=(
                f"The models module “{module_name}” (setting SCHEMA_MODELS) was imported but "
                "registers no SQLModel table, so there is nothing to compare."
            ),
        )
    # The comparison depends on the models (code, fixed for the process) and on the catalog
    # entries the reflection's fingerprint covers: it is made once per fingerprint.
    key = (module_name, schema, reflection().fingerprint, tuple(sorted(metadata.tables)))
    with _lock:
        cached = _compared.get(key)
    if cached is not None:
        return cached
    differences = run_read(
        lambda conn: compare(conn, metadata, schema),
        timeout_ms=timeout_ms,
        lock_timeout_ms=lock_timeout_ms,
    )
    report = DriftReport(module_name, schema, differences)
    with _lock:
        _compared.clear()  # one schema at a time
        _compared[key] = report
    return report


def forget_drift() -> None:
    """Drop the cached comparison (tests that change the models or the settings)."""
    with _lock:
        _compared.clear()
