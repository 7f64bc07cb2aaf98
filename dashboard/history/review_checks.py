"""Our own checks on a revision: data loss, table rewrites, write locks, missing downgrade."""

from __future__ import annotations

import ast
import re

import pglast
import pglast.stream
from pglast import ast as pg
from pglast import enums

from dashboard.history.review_models import DANGER, WARNING, Finding
from dashboard.history.review_statements import (
    Statement,
    _bare,
    _relname,
    _short,
    _touches_version_table,
)

VOLATILE_FUNCTIONS = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v1|uuid_generate_v1mc|uuid_generate_v4|"
    r"clock_timestamp|timeofday|nextval|txid_current|pg_current_xact_id)\s*\(",
    re.IGNORECASE,
)
SERIAL_TYPES = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}
# ALTER TABLE subcommands that do not block writes (SHARE UPDATE EXCLUSIVE or weaker).
NON_BLOCKING_ALTERS = {
    enums.AlterTableType.AT_ValidateConstraint,
    enums.AlterTableType.AT_SetStatistics,
}


def downgrade_findings(source: str) -> list[Finding]:
    """Return a finding when the script's downgrade() does nothing or refuses to run."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            body = [
                stmt
                for stmt in node.body
                if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
            ]
            if not body or all(isinstance(stmt, ast.Pass) for stmt in body):
                return [
                    Finding(
                        "schemadesk",
                        "no-downgrade",
                        WARNING,
                        "downgrade() does nothing: this revision cannot be rolled back.",
                        "def downgrade(): pass",
                        "Write the reverse operations, or document why it is one-way.",
                    )
                ]
            raises = [stmt for stmt in body if isinstance(stmt, ast.Raise)]
            if raises and len(body) == 1:
                return [
                    Finding(
                        "schemadesk",
                        "no-downgrade",
                        WARNING,
                        "downgrade() raises: this revision cannot be rolled back.",
                        ast.unparse(raises[0]),
                    )
                ]
            return []
    return [
        Finding(
            "schemadesk",
            "no-downgrade",
            WARNING,
            "The script has no downgrade() function.",
        )
    ]


class _Checker:
    """Walks the statements of one revision, remembering which tables it created."""

    def __init__(self, version_table: str) -> None:
        self.version_table = version_table
        self.created: set[str] = set()
        self.not_null_checks: set[tuple[str, str]] = set()
        self.findings: list[Finding] = []

    def add(
        self, rule: str, severity: str, message: str, statement: Statement, advice: str = ""
    ) -> None:
        self.findings.append(
            Finding("schemadesk", rule, severity, message, _short(statement.text), advice)
        )

    def existing(self, name: str) -> bool:
        return _bare(name) not in self.created

    def check(self, statement: Statement) -> None:
        node = statement.node
        if node is None or _touches_version_table(statement.text, self.version_table):
            return
        if isinstance(node, pg.CreateStmt):
            self.created.add(node.relation.relname)
        elif isinstance(node, pg.CreateTableAsStmt):
            self.created.add(node.into.rel.relname)
        elif isinstance(node, pg.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
            for names in node.objects or ():
                name = ".".join(part.sval for part in names)
                self.add(
                    "drop-table",
                    DANGER,
                    f"Drops table {name} and every row in it.",
                    statement,
                    "Make sure nothing reads it any more and that its data is backed up.",
                )
        elif isinstance(node, pg.IndexStmt):
            self.check_index(node, statement)
        elif isinstance(node, pg.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
            self.check_alter(node, statement)
        elif isinstance(node, pg.RenameStmt) and node.renameType in (
            enums.ObjectType.OBJECT_TABLE,
            enums.ObjectType.OBJECT_COLUMN,
        ):
            name = _relname(node.relation)
            if self.existing(name):
                what = f"column {name}.{node.subname}" if node.subname else f"table {name}"
                self.add(
                    "rename",
                    WARNING,
                    f"Renames {what} to {node.newname}: running code that uses the old name "
                    "breaks until it is deployed.",
                    statement,
                )

    def check_index(self, node: pg.IndexStmt, statement: Statement) -> None:
        table_name = _relname(node.relation)
        if node.concurrent or not self.existing(table_name):
            return
        self.add(
            "index-without-concurrently",
            WARNING,
            f"Builds index {node.idxname or '(unnamed)'} without CONCURRENTLY: writes to "
            f"{table_name} wait until the whole index is built.",
            statement,
            "Use op.create_index(..., postgresql_concurrently=True) inside "
            "`with op.get_context().autocommit_block():`.",
        )

    def check_alter(self, node: pg.AlterTableStmt, statement: Statement) -> None:
        table_name = _relname(node.relation)
        if not self.existing(table_name):
            return  # a table made in this revision is empty and nobody else sees it yet
        commands = [cmd for cmd in node.cmds or () if isinstance(cmd, pg.AlterTableCmd)]
        for cmd in commands:
            self.check_alter_command(table_name, cmd, statement)
        if any(cmd.subtype not in NON_BLOCKING_ALTERS for cmd in commands):
            self.add(
                "lock-blocks-writes",
                WARNING,
                f"ALTER TABLE {table_name} takes a lock that blocks writes (most forms take "
                "ACCESS EXCLUSIVE, blocking reads too) until the transaction commits.",
                statement,
                "Keep the transaction short and set a lock_timeout, so the migration gives "
                "up instead of queueing every query behind it.",
            )

    def check_alter_command(self, table_name: str, cmd: pg.AlterTableCmd, statement: Statement):
        kind = enums.AlterTableType
        if cmd.subtype == kind.AT_DropColumn:
            self.add(
                "drop-column",
                DANGER,
                f"Drops column {table_name}.{cmd.name} and its data.",
                statement,
                "Deploy code that no longer uses the column first; the data cannot be "
                "recovered by the downgrade.",
            )
        elif cmd.subtype == kind.AT_AlterColumnType:
            self.add(
                "table-rewrite",
                WARNING,
                f"Changes the type of {table_name}.{cmd.name}: this usually rewrites the table "
                "and its indexes under an ACCESS EXCLUSIVE lock.",
                statement,
                "Add a new column, backfill it in batches and switch over instead.",
            )
        elif cmd.subtype == kind.AT_AddColumn and isinstance(cmd.def_, pg.ColumnDef):
            self.check_added_column(table_name, cmd.def_, statement)
        elif cmd.subtype == kind.AT_AddConstraint and isinstance(cmd.def_, pg.Constraint):
            self.check_added_constraint(table_name, cmd.def_, statement)
        elif (
            cmd.subtype == kind.AT_SetNotNull
            and (_bare(table_name), cmd.name) not in self.not_null_checks
        ):
            self.add(
                "set-not-null-scan",
                WARNING,
                f"SET NOT NULL on {table_name}.{cmd.name} scans the whole table under an "
                "ACCESS EXCLUSIVE lock.",
                statement,
                f"First add CHECK ({cmd.name} IS NOT NULL) NOT VALID, validate it, then SET "
                "NOT NULL (PostgreSQL 12+ skips the scan).",
            )

    def check_added_column(self, table_name: str, column: pg.ColumnDef, statement: Statement):
        type_names = [n.sval for n in (column.typeName.names if column.typeName else ())]
        reasons = []
        if type_names and type_names[-1].lower() in SERIAL_TYPES:
            reasons.append(f"its type {type_names[-1]} fills every row from a sequence")
        for constraint in column.constraints or ():
            if constraint.contype == enums.ConstrType.CONSTR_DEFAULT and constraint.raw_expr:
                expression = pglast.stream.RawStream()(constraint.raw_expr)
                if VOLATILE_FUNCTIONS.search(expression):
                    reasons.append(f"its default {expression} is volatile")
            elif constraint.contype == enums.ConstrType.CONSTR_GENERATED:
                reasons.append("it is a stored generated column")
            elif constraint.contype == enums.ConstrType.CONSTR_IDENTITY:
                reasons.append("it is an identity column")
        if reasons:
            self.add(
                "table-rewrite",
                WARNING,
                f"Adding column {table_name}.{column.colname} rewrites the table: "
                + "; ".join(reasons)
                + ".",
                statement,
                "Add the column without the default, backfill in batches, then set the default.",
            )

    def check_added_constraint(
        self, table_name: str, constraint: pg.Constraint, statement: Statement
    ) -> None:
        kinds = enums.ConstrType
        if constraint.contype == kinds.CONSTR_FOREIGN and not constraint.skip_validation:
            self.add(
                "foreign-key-validation",
                WARNING,
                f"Adds foreign key {constraint.conname or ''} on {table_name} without NOT VALID: "
                f"both {table_name} and {_relname(constraint.pktable)} are locked against "
                "writes while every row is checked.",
                statement,
                "Add it NOT VALID, then VALIDATE CONSTRAINT in a later step.",
            )
        elif constraint.contype == kinds.CONSTR_CHECK:
            expression = constraint.raw_expr
            if (
                isinstance(expression, pg.NullTest)
                and expression.nulltesttype == enums.NullTestType.IS_NOT_NULL
                and isinstance(expression.arg, pg.ColumnRef)
            ):
                column = expression.arg.fields[-1].sval
                self.not_null_checks.add((_bare(table_name), column))
            if not constraint.skip_validation:
                self.add(
                    "check-validation",
                    WARNING,
                    f"Adds check constraint {constraint.conname or ''} on {table_name} without "
                    "NOT VALID: every row is checked under an ACCESS EXCLUSIVE lock.",
                    statement,
                    "Add it NOT VALID, then VALIDATE CONSTRAINT in a later step.",
                )
        elif constraint.contype in (kinds.CONSTR_UNIQUE, kinds.CONSTR_PRIMARY) and not (
            constraint.indexname
        ):
            what = "primary key" if constraint.contype == kinds.CONSTR_PRIMARY else "unique"
            self.add(
                "index-without-concurrently",
                WARNING,
                f"Adds a {what} constraint on {table_name}, building its index while writes wait.",
                statement,
                "Build a unique index CONCURRENTLY first, then add the constraint USING INDEX.",
            )


def sql_findings(statements: list[Statement], version_table: str) -> list[Finding]:
    """Return our own findings on the parsed statements of one revision."""
    checker = _Checker(version_table)
    for statement in statements:
        checker.check(statement)
    return checker.findings
