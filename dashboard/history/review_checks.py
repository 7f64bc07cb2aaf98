"""Our own checks on a revision: data loss, table rewrites, write locks, missing timeouts,
transaction mistakes and a missing downgrade, each on the statement it concerns."""

from __future__ import annotations

import ast

from pglast import ast as pg
from pglast import enums

from dashboard.history.review_locks import (
    LockReader,
    TableLock,
    added_column_rewrites,
    blocks_writes,
)
from dashboard.history.review_models import DANGER, WARNING, Finding
from dashboard.history.review_session import SessionState
from dashboard.history.review_statements import (
    Statement,
    _bare,
    _relname,
    _short,
    _touches_version_table,
)

# Problem keys: one finding per problem per statement, whichever tool saw it (see review.py).
DROP_TABLE = "drop-table"
DROP_COLUMN = "drop-column"
RENAME = "rename"
REWRITE = "rewrite"
INDEX_LOCK = "index-lock"
VALIDATION_SCAN = "validation-scan"
NOT_NULL_SCAN = "not-null-scan"
LOCK_TIMEOUT = "lock-timeout"
STATEMENT_TIMEOUT = "statement-timeout"
CONCURRENTLY_IN_TRANSACTION = "concurrently-in-transaction"
NO_DOWNGRADE = "no-downgrade"


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
                        problem=NO_DOWNGRADE,
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
                        problem=NO_DOWNGRADE,
                    )
                ]
            return []
    return [
        Finding(
            "schemadesk",
            "no-downgrade",
            WARNING,
            "The script has no downgrade() function.",
            problem=NO_DOWNGRADE,
        )
    ]


class _Checker:
    """Walks the statements of one revision in order, with the session state of each."""

    def __init__(self, version_table: str) -> None:
        self.version_table = version_table
        self.reader = LockReader()
        self.findings: list[Finding] = []
        self.index = 0
        self.statement: Statement | None = None
        self.warned_lock_timeout = False

    def add(self, rule: str, problem: str, severity: str, message: str, advice: str = "") -> None:
        text = self.statement.text if self.statement else ""
        self.findings.append(
            Finding(
                "schemadesk",
                rule,
                severity,
                message,
                _short(text),
                advice,
                statement_index=self.index,
                problem=problem,
            )
        )

    def check(self, index: int, statement: Statement, state: SessionState) -> None:
        node = statement.node
        self.index, self.statement = index, statement
        if node is None or _touches_version_table(statement.text, self.version_table):
            self.reader.read(node)
            return
        if isinstance(node, pg.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
            self.check_drop_tables(node)
        elif isinstance(node, pg.IndexStmt):
            self.check_index(node, state)
        elif isinstance(node, pg.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
            self.check_alter(node)
        elif isinstance(node, pg.RenameStmt) and node.renameType in (
            enums.ObjectType.OBJECT_TABLE,
            enums.ObjectType.OBJECT_COLUMN,
        ):
            self.check_rename(node)
        elif (
            isinstance(node, pg.DropStmt)
            and node.removeType == enums.ObjectType.OBJECT_INDEX
            and node.concurrent
        ):
            self.check_concurrently(state, "DROP INDEX CONCURRENTLY")
        effect = self.reader.read(node)
        self.check_lock_timeout(effect.locks, state)

    def check_drop_tables(self, node: pg.DropStmt) -> None:
        for names in node.objects or ():
            name = ".".join(part.sval for part in names)
            if self.reader.existing(name):
                self.add(
                    "drop-table",
                    DROP_TABLE,
                    DANGER,
                    f"Drops table {name} and every row in it.",
                    "Make sure nothing reads it any more and that its data is backed up.",
                )

    def check_rename(self, node: pg.RenameStmt) -> None:
        name = _relname(node.relation)
        if self.reader.existing(name):
            what = f"column {name}.{node.subname}" if node.subname else f"table {name}"
            self.add(
                "rename",
                RENAME,
                WARNING,
                f"Renames {what} to {node.newname}: running code that uses the old name "
                "breaks until it is deployed.",
                "Add the new name alongside (a view or a new column), deploy, then drop the old.",
            )

    def check_concurrently(self, state: SessionState, what: str) -> None:
        if state.in_transaction:
            self.add(
                "concurrently-in-transaction",
                CONCURRENTLY_IN_TRANSACTION,
                DANGER,
                f"{what} cannot run inside a transaction block, and this one runs inside the "
                f"transaction opened by an earlier BEGIN: the migration fails here.",
                "Put it inside `with op.get_context().autocommit_block():`.",
            )

    def check_index(self, node: pg.IndexStmt, state: SessionState) -> None:
        table_name = _relname(node.relation)
        if node.concurrent:
            self.check_concurrently(state, "CREATE INDEX CONCURRENTLY")
            return
        if not self.reader.existing(table_name):
            return
        self.add(
            "index-without-concurrently",
            INDEX_LOCK,
            WARNING,
            f"Builds index {node.idxname or '(unnamed)'} without CONCURRENTLY: writes to "
            f"{table_name} wait until the whole index is built.",
            "Use op.create_index(..., postgresql_concurrently=True) inside "
            "`with op.get_context().autocommit_block():`.",
        )

    def check_alter(self, node: pg.AlterTableStmt) -> None:
        table_name = _relname(node.relation)
        if not self.reader.existing(table_name):
            return  # a table made in this revision is empty and nobody else sees it yet
        for cmd in node.cmds or ():
            if isinstance(cmd, pg.AlterTableCmd):
                self.check_alter_command(table_name, cmd)

    def check_alter_command(self, table_name: str, cmd: pg.AlterTableCmd) -> None:
        kind = enums.AlterTableType
        if cmd.subtype == kind.AT_DropColumn:
            self.add(
                "drop-column",
                DROP_COLUMN,
                DANGER,
                f"Drops column {table_name}.{cmd.name} and its data.",
                "Deploy code that no longer uses the column first; the data cannot be "
                "recovered by the downgrade.",
            )
        elif cmd.subtype == kind.AT_AlterColumnType:
            self.add(
                "table-rewrite",
                REWRITE,
                WARNING,
                f"Changes the type of {table_name}.{cmd.name}: this usually rewrites the table "
                "and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes.",
                "Add a new column, backfill it in batches and switch over instead.",
            )
        elif cmd.subtype == kind.AT_AddColumn and isinstance(cmd.def_, pg.ColumnDef):
            reasons = added_column_rewrites(cmd.def_)
            if reasons:
                self.add(
                    "table-rewrite",
                    REWRITE,
                    WARNING,
                    f"Adding column {table_name}.{cmd.def_.colname} rewrites the table: "
                    + "; ".join(reasons)
                    + ".",
                    "Add the column without the default, backfill in batches, then set the "
                    "default.",
                )
        elif cmd.subtype == kind.AT_AddConstraint and isinstance(cmd.def_, pg.Constraint):
            self.check_added_constraint(table_name, cmd.def_)
        elif (
            cmd.subtype == kind.AT_SetNotNull
            and (_bare(table_name), cmd.name) not in self.reader.not_null_checks
        ):
            self.add(
                "set-not-null-scan",
                NOT_NULL_SCAN,
                WARNING,
                f"SET NOT NULL on {table_name}.{cmd.name} scans the whole table under an "
                "ACCESS EXCLUSIVE lock.",
                f"First add CHECK ({cmd.name} IS NOT NULL) NOT VALID, validate it, then SET "
                "NOT NULL (PostgreSQL 12+ skips the scan).",
            )

    def check_added_constraint(self, table_name: str, constraint: pg.Constraint) -> None:
        kinds = enums.ConstrType
        if constraint.contype == kinds.CONSTR_FOREIGN and not constraint.skip_validation:
            self.add(
                "foreign-key-validation",
                VALIDATION_SCAN,
                WARNING,
                f"Adds foreign key {constraint.conname or ''} on {table_name} without NOT VALID: "
                f"both {table_name} and {_relname(constraint.pktable)} are locked against "
                "writes while every row is checked.",
                "Add it NOT VALID, then VALIDATE CONSTRAINT in a later step.",
            )
        elif constraint.contype == kinds.CONSTR_CHECK and not constraint.skip_validation:
            self.add(
                "check-validation",
                VALIDATION_SCAN,
                WARNING,
                f"Adds check constraint {constraint.conname or ''} on {table_name} without "
                "NOT VALID: every row is checked under an ACCESS EXCLUSIVE lock.",
                "Add it NOT VALID, then VALIDATE CONSTRAINT in a later step.",
            )
        elif constraint.contype in (kinds.CONSTR_UNIQUE, kinds.CONSTR_PRIMARY) and not (
            constraint.indexname
        ):
            what = "primary key" if constraint.contype == kinds.CONSTR_PRIMARY else "unique"
            self.add(
                "index-without-concurrently",
                INDEX_LOCK,
                WARNING,
                f"Adds a {what} constraint on {table_name}, building its index while writes wait.",
                "Build a unique index CONCURRENTLY first, then add the constraint USING INDEX.",
            )

    def check_lock_timeout(self, locks: list[TableLock], state: SessionState) -> None:
        """Once per stretch of the script without a lock_timeout: the first blocking lock."""
        if state.lock_timeout:
            self.warned_lock_timeout = False
            return
        blocking = [lock for lock in locks if blocks_writes(lock.mode)]
        if not blocking or self.warned_lock_timeout:
            return
        self.warned_lock_timeout = True
        first = blocking[0]
        self.add(
            "lock-timeout-missing",
            LOCK_TIMEOUT,
            WARNING,
            f"No lock_timeout is in effect when this statement asks for {first.mode} on "
            f"{first.table}: if a long transaction holds the table, it waits, and every "
            f"query on {first.table} (which the lock blocks: {first.blocks}) queues behind it.",
            "Start the script with SET lock_timeout = '5s' (in env.py, before "
            "run_migrations()), so the migration gives up and can be retried.",
        )


def sql_findings(
    statements: list[Statement], version_table: str, states: list[SessionState]
) -> list[Finding]:
    """Return our own findings on the parsed statements of one revision."""
    checker = _Checker(version_table)
    for index, (statement, state) in enumerate(zip(statements, states, strict=True)):
        checker.check(index, statement, state)
    return checker.findings
