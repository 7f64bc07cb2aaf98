"""What each statement of a revision locks, in which mode, what work it does under the lock,
and what it changes for good.

Lock modes are those of the PostgreSQL documentation ("Explicit Locking", and the Notes of
ALTER TABLE: https://www.postgresql.org/docs/current/sql-altertable.html): most ALTER TABLE
forms take ACCESS EXCLUSIVE; adding a foreign key takes SHARE ROW EXCLUSIVE on both tables;
VALIDATE CONSTRAINT, SET STATISTICS and storage options take SHARE UPDATE EXCLUSIVE; CREATE
INDEX takes SHARE (CONCURRENTLY: SHARE UPDATE EXCLUSIVE). A table made earlier in the same
revision is new: nobody else can see it yet, so its locks and work do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pglast
import pglast.stream
from pglast import ast as pg
from pglast import enums

from dashboard.history.review_statements import _bare, _relname

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE = "SHARE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
# Weakest first: the strongest mode a table gets in a transaction is the one that counts.
MODES = (
    ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    SHARE,
    SHARE_ROW_EXCLUSIVE,
    EXCLUSIVE,
    ACCESS_EXCLUSIVE,
)
BLOCKS = {
    ACCESS_EXCLUSIVE: "reads and writes",
    EXCLUSIVE: "writes",
    SHARE_ROW_EXCLUSIVE: "writes",
    SHARE: "writes",
    SHARE_UPDATE_EXCLUSIVE: "neither reads nor writes (only other schema changes and VACUUM)",
    ROW_EXCLUSIVE: "neither reads nor writes (the rows it changes stay locked until commit)",
}

METADATA = "metadata-only"  # the catalog changes: brief once the lock is granted
ROWS = "row changes"  # as long as the rows it touches take
SCAN = "full scan"  # reads every row (validation)
INDEX_BUILD = "index build"  # reads every row and writes an index
REWRITE = "rewrite"  # writes a new copy of the table and all its indexes
WORKS = (METADATA, ROWS, SCAN, INDEX_BUILD, REWRITE)  # cheapest first

VOLATILE_FUNCTIONS = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v1|uuid_generate_v1mc|uuid_generate_v4|"
    r"clock_timestamp|timeofday|nextval|txid_current|pg_current_xact_id)\s*\(",
    re.IGNORECASE,
)
SERIAL_TYPES = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}

_ALTER = enums.AlterTableType
# ALTER TABLE subcommands by the lock they take when it is not ACCESS EXCLUSIVE.
_SHARE_UPDATE_EXCLUSIVE_ALTERS = {
    _ALTER.AT_ValidateConstraint,
    _ALTER.AT_SetStatistics,
    _ALTER.AT_SetOptions,
    _ALTER.AT_ResetOptions,
    _ALTER.AT_SetRelOptions,
    _ALTER.AT_ResetRelOptions,
    _ALTER.AT_ClusterOn,
    _ALTER.AT_DropCluster,
    _ALTER.AT_AttachPartition,
}
_SHARE_ROW_EXCLUSIVE_ALTERS = {
    _ALTER.AT_EnableTrig,
    _ALTER.AT_EnableAlwaysTrig,
    _ALTER.AT_EnableReplicaTrig,
    _ALTER.AT_DisableTrig,
    _ALTER.AT_EnableTrigAll,
    _ALTER.AT_DisableTrigAll,
    _ALTER.AT_EnableTrigUser,
    _ALTER.AT_DisableTrigUser,
}
_REWRITING_ALTERS = {
    _ALTER.AT_AlterColumnType,
    _ALTER.AT_SetLogged,
    _ALTER.AT_SetUnLogged,
    _ALTER.AT_SetTableSpace,
    _ALTER.AT_SetAccessMethod,
}


_RENAMED_IN_A_TABLE = {
    enums.ObjectType.OBJECT_TABLE,
    enums.ObjectType.OBJECT_COLUMN,
    enums.ObjectType.OBJECT_TABCONSTRAINT,
}


def stronger(first: str, second: str) -> str:
    """Return the stronger of two lock modes."""
    return max(first, second, key=MODES.index)


def heavier(first: str, second: str) -> str:
    """Return the costlier of two kinds of work."""
    return max(first, second, key=WORKS.index)


def blocks_writes(mode: str) -> bool:
    return MODES.index(mode) >= MODES.index(SHARE)


@dataclass(frozen=True)
class TableLock:
    """One lock a statement takes on an existing table, and the work done under it."""

    table: str
    mode: str
    work: str
    what: str  # what the statement does there, as a sentence fragment

    @property
    def blocks(self) -> str:
        return BLOCKS[self.mode]


@dataclass
class StatementEffect:
    """What one statement locks and what it changes for good."""

    locks: list[TableLock] = field(default_factory=list)
    one_way: list[str] = field(default_factory=list)
    creates: str = ""  # the table it makes, if any

    def lock(self, table: str, mode: str, work: str, what: str) -> None:
        for number, existing in enumerate(self.locks):
            if existing.table == table:
                self.locks[number] = TableLock(
                    table,
                    stronger(existing.mode, mode),
                    heavier(existing.work, work),
                    f"{existing.what}; {what}",
                )
                return
        self.locks.append(TableLock(table, mode, work, what))


def _type_name(column: pg.ColumnDef) -> str:
    names = [n.sval for n in ((column.typeName.names or ()) if column.typeName else ())]
    return names[-1].lower() if names else ""


def added_column_rewrites(column: pg.ColumnDef) -> list[str]:
    """Return why adding `column` rewrites the table (empty when it is metadata-only, PG 11+)."""
    reasons = []
    if _type_name(column) in SERIAL_TYPES:
        reasons.append(f"its type {_type_name(column)} fills every row from a sequence")
    for constraint in column.constraints or ():
        if constraint.contype == enums.ConstrType.CONSTR_DEFAULT and constraint.raw_expr:
            expression = pglast.stream.RawStream()(constraint.raw_expr)
            if VOLATILE_FUNCTIONS.search(expression):
                reasons.append(f"its default {expression} is volatile")
        elif constraint.contype == enums.ConstrType.CONSTR_GENERATED:
            reasons.append("it is a stored generated column")
        elif constraint.contype == enums.ConstrType.CONSTR_IDENTITY:
            reasons.append("it is an identity column")
    return reasons


def not_null_check_column(constraint: pg.Constraint) -> str:
    """Return the column of a `CHECK (column IS NOT NULL)` constraint, else ''."""
    expression = constraint.raw_expr
    if (
        constraint.contype == enums.ConstrType.CONSTR_CHECK
        and isinstance(expression, pg.NullTest)
        and expression.nulltesttype == enums.NullTestType.IS_NOT_NULL
        and isinstance(expression.arg, pg.ColumnRef)
        and expression.arg.fields
    ):
        return str(expression.arg.fields[-1].sval)
    return ""


class LockReader:
    """Reads the statements of one revision in order, remembering the tables it made."""

    def __init__(self) -> None:
        self.created: set[str] = set()
        # (table, column) with a validated CHECK (column IS NOT NULL): SET NOT NULL skips its scan
        self.not_null_checks: set[tuple[str, str]] = set()
        # such checks added NOT VALID, by (table, constraint name), until they are validated
        self.unvalidated_checks: dict[tuple[str, str], str] = {}

    def existing(self, name: str) -> bool:
        return _bare(name) not in self.created

    def read(self, node: pg.Node | None) -> StatementEffect:
        """Return what `node` locks and changes for good."""
        effect = StatementEffect()
        if isinstance(node, pg.CreateStmt):
            effect.creates = _relname(node.relation)
            self.created.add(_bare(effect.creates))
            self._created_table_references(node, effect)
        elif isinstance(node, pg.CreateTableAsStmt):
            effect.creates = _relname(node.into.rel if node.into else None)
            self.created.add(_bare(effect.creates))
        elif isinstance(node, pg.IndexStmt):
            table = _relname(node.relation)
            if self.existing(table):
                mode = SHARE_UPDATE_EXCLUSIVE if node.concurrent else SHARE
                effect.lock(table, mode, INDEX_BUILD, f"builds index {node.idxname or ''}".strip())
        elif isinstance(node, pg.DropStmt):
            self._drop(node, effect)
        elif isinstance(node, pg.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
            table = _relname(node.relation)
            if self.existing(table):
                for cmd in node.cmds or ():
                    if isinstance(cmd, pg.AlterTableCmd):
                        self._alter(table, cmd, effect)
            else:
                for cmd in node.cmds or ():
                    if isinstance(cmd, pg.AlterTableCmd) and isinstance(cmd.def_, pg.Constraint):
                        self._references(table, cmd.def_, effect)
        elif (
            isinstance(node, pg.RenameStmt)
            and node.relation is not None
            and node.renameType in _RENAMED_IN_A_TABLE
        ):
            table = _relname(node.relation)
            if self.existing(table):
                effect.lock(table, ACCESS_EXCLUSIVE, METADATA, f"renames to {node.newname}")
        elif isinstance(node, pg.CreatePolicyStmt | pg.AlterPolicyStmt):
            table = _relname(node.table)
            if self.existing(table):
                effect.lock(table, ACCESS_EXCLUSIVE, METADATA, f"policy {node.policy_name}")
        elif isinstance(node, pg.CreateTrigStmt):
            table = _relname(node.relation)
            if self.existing(table):
                effect.lock(table, SHARE_ROW_EXCLUSIVE, METADATA, f"trigger {node.trigname}")
        elif isinstance(node, pg.TruncateStmt):
            for relation in node.relations or ():
                table = _relname(relation)
                if self.existing(table):
                    effect.lock(table, ACCESS_EXCLUSIVE, METADATA, "empties it")
                    effect.one_way.append(f"Empties table {table}: its rows are gone.")
        elif isinstance(node, pg.UpdateStmt | pg.DeleteStmt):
            self._rows(node, effect)
        return effect

    def _created_table_references(self, node: pg.CreateStmt, effect: StatementEffect) -> None:
        for element in node.tableElts or ():
            if isinstance(element, pg.Constraint):
                self._references(_relname(node.relation), element, effect)
            elif isinstance(element, pg.ColumnDef):
                for constraint in element.constraints or ():
                    self._references(_relname(node.relation), constraint, effect)

    def _references(self, table: str, constraint: pg.Constraint, effect: StatementEffect):
        """A foreign key locks the table it references against writes while it is added (the
        rows checked are the referencing table's: its lock carries the scan)."""
        if constraint.contype != enums.ConstrType.CONSTR_FOREIGN or constraint.pktable is None:
            return
        referenced = _relname(constraint.pktable)
        if self.existing(referenced) and _bare(referenced) != _bare(table):
            effect.lock(referenced, SHARE_ROW_EXCLUSIVE, METADATA, f"referenced by {table}")

    def _drop(self, node: pg.DropStmt, effect: StatementEffect) -> None:
        kind = enums.ObjectType
        for names in node.objects or ():
            parts = [part.sval for part in names] if isinstance(names, tuple | list) else []
            name = ".".join(parts)
            if node.removeType == kind.OBJECT_TABLE and parts:
                if self.existing(name):
                    effect.lock(name, ACCESS_EXCLUSIVE, METADATA, "drops it")
                    effect.one_way.append(f"Drops table {name} and every row in it.")
                self.created.discard(_bare(name))
            elif node.removeType == kind.OBJECT_INDEX and parts:
                mode = SHARE_UPDATE_EXCLUSIVE if node.concurrent else ACCESS_EXCLUSIVE
                effect.lock(f"the table of index {name}", mode, METADATA, f"drops index {name}")
            elif node.removeType == kind.OBJECT_POLICY and len(parts) >= 2:
                table = ".".join(parts[:-1])
                if self.existing(table):
                    effect.lock(table, ACCESS_EXCLUSIVE, METADATA, f"drops policy {parts[-1]}")

    def _rows(self, node: pg.UpdateStmt | pg.DeleteStmt, effect: StatementEffect) -> None:
        table = _relname(node.relation)
        if not self.existing(table):
            return
        every = node.whereClause is None
        verb = "updates" if isinstance(node, pg.UpdateStmt) else "deletes"
        scope = "every row" if every else "rows"
        effect.lock(table, ROW_EXCLUSIVE, ROWS, f"{verb} {scope}")
        if isinstance(node, pg.UpdateStmt):
            effect.one_way.append(
                f"Overwrites values in {scope} of {table}: a downgrade cannot know the old ones."
            )
        else:
            effect.one_way.append(f"Deletes {scope} of {table}.")

    def _alter(self, table: str, cmd: pg.AlterTableCmd, effect: StatementEffect) -> None:
        subtype = cmd.subtype
        column = f"{table}.{cmd.name}" if cmd.name else table
        if subtype == _ALTER.AT_AddColumn and isinstance(cmd.def_, pg.ColumnDef):
            reasons = added_column_rewrites(cmd.def_)
            work = REWRITE if reasons else METADATA
            effect.lock(table, ACCESS_EXCLUSIVE, work, f"adds column {cmd.def_.colname}")
        elif subtype == _ALTER.AT_DropColumn:
            effect.lock(table, ACCESS_EXCLUSIVE, METADATA, f"drops column {cmd.name}")
            effect.one_way.append(
                f"Drops column {column} and its values: the downgrade can add the column back, "
                "empty."
            )
        elif subtype == _ALTER.AT_SetNotNull:
            checked = (_bare(table), cmd.name) in self.not_null_checks
            work = METADATA if checked else SCAN
            effect.lock(table, ACCESS_EXCLUSIVE, work, f"sets {cmd.name} NOT NULL")
        elif subtype == _ALTER.AT_AddConstraint and isinstance(cmd.def_, pg.Constraint):
            self._add_constraint(table, cmd.def_, effect)
        elif subtype in _SHARE_UPDATE_EXCLUSIVE_ALTERS:
            work = SCAN if subtype == _ALTER.AT_ValidateConstraint else METADATA
            if subtype == _ALTER.AT_ValidateConstraint:
                column = self.unvalidated_checks.pop((_bare(table), cmd.name or ""), "")
                if column:
                    self.not_null_checks.add((_bare(table), column))
            effect.lock(table, SHARE_UPDATE_EXCLUSIVE, work, _alter_words(cmd))
        elif subtype in _SHARE_ROW_EXCLUSIVE_ALTERS:
            effect.lock(table, SHARE_ROW_EXCLUSIVE, METADATA, _alter_words(cmd))
        elif subtype in _REWRITING_ALTERS:
            effect.lock(table, ACCESS_EXCLUSIVE, REWRITE, _alter_words(cmd))
        else:
            effect.lock(table, ACCESS_EXCLUSIVE, METADATA, _alter_words(cmd))

    def _add_constraint(self, table: str, constraint: pg.Constraint, effect: StatementEffect):
        kinds = enums.ConstrType
        name = constraint.conname or ""
        if constraint.contype == kinds.CONSTR_FOREIGN:
            work = METADATA if constraint.skip_validation else SCAN
            effect.lock(table, SHARE_ROW_EXCLUSIVE, work, f"adds foreign key {name}".strip())
            self._references(table, constraint, effect)
        elif constraint.contype == kinds.CONSTR_CHECK:
            work = METADATA if constraint.skip_validation else SCAN
            effect.lock(table, ACCESS_EXCLUSIVE, work, f"adds check {name}".strip())
            column = not_null_check_column(constraint)
            if column and constraint.skip_validation:
                self.unvalidated_checks[(_bare(table), name)] = column
            elif column:
                self.not_null_checks.add((_bare(table), column))
        elif constraint.contype in (
            kinds.CONSTR_UNIQUE,
            kinds.CONSTR_PRIMARY,
            kinds.CONSTR_EXCLUSION,
        ):
            work = METADATA if constraint.indexname else INDEX_BUILD
            effect.lock(table, ACCESS_EXCLUSIVE, work, f"adds constraint {name}".strip())
        else:
            effect.lock(table, ACCESS_EXCLUSIVE, METADATA, f"adds constraint {name}".strip())


_ALTER_WORDS = {
    _ALTER.AT_AlterColumnType: "changes the type of {name}",
    _ALTER.AT_ColumnDefault: "sets the default of {name}",
    _ALTER.AT_DropNotNull: "drops NOT NULL of {name}",
    _ALTER.AT_DropConstraint: "drops constraint {name}",
    _ALTER.AT_ValidateConstraint: "validates {name}",
    _ALTER.AT_EnableRowSecurity: "enables row-level security",
    _ALTER.AT_DisableRowSecurity: "disables row-level security",
    _ALTER.AT_ForceRowSecurity: "forces row-level security",
    _ALTER.AT_SetStatistics: "sets the statistics target of {name}",
    _ALTER.AT_ChangeOwner: "changes its owner",
}


def _alter_words(cmd: pg.AlterTableCmd) -> str:
    """Return what an ALTER TABLE subcommand does ('changes the type of total')."""
    if cmd.subtype is None:
        return cmd.name or ""
    template = _ALTER_WORDS.get(cmd.subtype)
    if template:
        return template.format(name=cmd.name or "")
    words = cmd.subtype.name.removeprefix("AT_")
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in words).strip()
    return f"{spaced} {cmd.name}" if cmd.name else spaced
