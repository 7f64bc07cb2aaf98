"""Drift: does the live target schema match the SQLModel models? Told as sentences.

The models are those registered on `sqlmodel.SQLModel.metadata` once the module named by the
`SCHEMA_MODELS` setting is imported. The comparison is Alembic's own autogenerate comparison
(`alembic.autogenerate.compare_metadata`), run on a read-only connection whose `search_path` is
only the target schema, so the models' unqualified tables are compared with that schema and
nothing else. Tables the models do not define are reported by name without being reflected
(reflecting hundreds of unrelated tables would be slow and tell nothing more).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from django.conf import settings
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.dialects import postgresql

from dashboard.target import run_read, target_schema

logger = logging.getLogger(__name__)

DRIFT_TIMEOUT_MS = 30_000


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

    models_module: str
    schema: str
    differences: list[Difference] = field(default_factory=list)
    error: str = ""  # why the comparison could not run (e.g. the models did not import)

    @property
    def ok(self) -> bool:
        return not self.error and not self.differences

    @property
    def counts(self) -> dict[str, int]:
        """Return how many differences are 'missing', 'extra' and 'changed' (zeros left out)."""
        found = {"missing": 0, "extra": 0, "changed": 0}
        for difference in self.differences:
            found[difference.label] += 1
        return {label: count for label, count in found.items() if count}


def models_module_name() -> str:
    """Return the dotted name of the module defining the models (setting SCHEMA_MODELS)."""
    return str(getattr(settings, "SCHEMA_MODELS", "core.models"))


def models_metadata(module_name: str) -> MetaData:
    """Import `module_name` and return the SQLModel metadata its models registered on."""
    importlib.import_module(module_name)
    from sqlmodel import SQLModel

    return SQLModel.metadata


def _comparable(metadata: MetaData, schema: str) -> MetaData:
    """Return the model tables that live in `schema`, as unqualified tables."""
    if all(table.schema is None for table in metadata.tables.values()):
        return metadata
    # Models naming the target schema explicitly are compared as unqualified tables (that is
    # how the search_path shows them); models of other schemas are out of scope.
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        if table.schema in (None, schema):
            table.to_metadata(copy, schema=None)
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
    found = [item for diff in compare_metadata(context, metadata) for item in describe(diff)]
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


def drift_report(lock_timeout_ms: int | None = None) -> DriftReport:
    """Return how the target schema differs from the models named by SCHEMA_MODELS.

    Raises TargetError when the database cannot be read; reflecting a table waits behind an
    exclusive lock on it for `lock_timeout_ms` (default: the TARGET setting).
    """
    module_name = models_module_name()
    schema = target_schema()
    try:
        metadata = _comparable(models_metadata(module_name), schema)
    except Exception as exc:  # any failure to import the models is shown, not raised
        logger.warning("schema drift: importing %s failed", module_name, exc_info=True)
        return DriftReport(
            module_name,
            schema,
            error=(
                f"The models module “{module_name}” (setting SCHEMA_MODELS) could not be "
                f"imported: {type(exc).__name__}: {exc}. Set SCHEMA_MODELS to the dotted path "
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
    differences = run_read(
        lambda conn: compare(conn, metadata, schema),
        timeout_ms=DRIFT_TIMEOUT_MS,
        lock_timeout_ms=lock_timeout_ms,
    )
    return DriftReport(module_name, schema, differences)
