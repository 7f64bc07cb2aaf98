"""The one door through which the console writes to the target database.

The read gateway (dashboard/target.py) only reads. Row changes (a restore from a branch, an
edit, an added or deleted row, the revert of one of these) all come here as a WritePlan: changes
to one end-user's rows. This module alone turns a plan into SQL and runs it, so every statement
that reaches the application's data has the same guards:

- Off unless `DATA_WRITES_ENABLED` and `TARGET_WRITE_DATABASE_URL` are set; that URL's role is
  checked in every write: not a superuser, no BYPASSRLS, owning no table of the schema (so
  row-level security binds it and it cannot change the schema). Use the application's runtime
  role: the console can then do nothing the application itself could not.
- One transaction, with statement_timeout and lock_timeout local to it (one that stops a
  statement rolls the whole change back, and the operator is told which timeout, not that the
  database is unreachable), and the end-user bound to the row-level security setting
  (`TARGET_RLS_USER_SETTING`, `app.current_user_id`).
  Tables where row-level security applies are left to their policies; on every other table each
  statement carries the end-user's ownership predicate (dashboard/users/ownership.py).
- Every UPDATE and DELETE is guarded by the fingerprint the row had when it was shown
  (dashboard/row_text.py); every INSERT of a known key by ON CONFLICT DO NOTHING, one whose
  key the database assigns by its form's one-time mark (plan.context["once"]). A statement
  whose guard finds nothing to do is skipped and reported, never forced.
- What runs is what was shown: the preview's statements are rendered here and their digest is
  checked again inside the write transaction; values of masked columns are shown as ********.
- No write without its audit event: the intent (operator, reason, statements, the before-image
  read under row locks, including what a delete's cascade removes) is written to the console's
  database before the target commits; if that fails, the transaction is rolled back and nothing
  is written. The outcome (applied, skipped, the after-image, or the error) follows the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors
from django.conf import settings
from django.db import Error as ConsoleDatabaseError
from django.http import HttpRequest
from sqlalchemy import Table

from dashboard.audit.models import AuditEvent
from dashboard.audit.services import record
from dashboard.changes.cascade import Effect, delete_effects
from dashboard.console_work import APPLICATION_NAME
from dashboard.infinite_dates import target_context
from dashboard.row_text import (
    FINGERPRINT_LABEL,
    MASK,
    OUTPUT_SETTINGS_SQL,
    fingerprint_sql,
    masked_names,
    output_setting_values,
    shown_values,
    typed_literal,
)
from dashboard.suggested_sql import qualified_name, quote_identifier, quote_literal
from dashboard.target import target_schema
from dashboard.users.ownership import OwnershipMap, rows_of_user_sql

logger = logging.getLogger(__name__)

INTENT = "write.intent"
OUTCOME = "write.outcome"
ACTIONS = ("insert", "update", "delete")


class WriteRefused(Exception):
    """A write that cannot happen, with the sentence for the operator (nothing was written)."""

    status = 409

    def __init__(self, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.detail = detail or sentence


class WritesOff(WriteRefused):
    """Row changes are not enabled on this console."""

    status = 403


class ReasonMissing(WriteRefused):
    """A change without its reason (every change needs one, whatever the settings)."""

    status = 400

    def __init__(self) -> None:
        super().__init__("Give a reason for this change; it is written to the audit trail.")


class WriteUnavailable(WriteRefused):
    """A database the write needs cannot be reached."""

    status = 503


# -- settings -------------------------------------------------------------------------------------


def _settings() -> Mapping[str, Any]:
    return settings.TARGET_WRITE


def _timeout_ms(name: str) -> int:
    """Return one of the write transaction's timeouts (STATEMENT_ or LOCK_TIMEOUT_MS)."""
    return int(_settings()[name])


def writes_problem() -> str:
    """Return why row changes are off ('' when they are on)."""
    if not getattr(settings, "DATA_WRITES_ENABLED", False):
        return "Row changes are off on this console (DATA_WRITES_ENABLED is not true)."
    if not _settings().get("URL_VAR"):
        return (
            "Row changes are enabled but TARGET_WRITE_DATABASE_URL is not set: the console "
            "writes only as its own write role (see the README's security section)."
        )
    return ""


def writes_enabled() -> bool:
    return not writes_problem()


def max_rows() -> int:
    return int(_settings().get("MAX_ROWS", 1000))


def _write_url() -> str:
    from dashboard.config import checked_database_url

    url = checked_database_url(str(_settings()["URL_VAR"]))
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def _connection() -> Iterator[psycopg.Connection]:
    """Yield a fresh connection as the write role (closed afterwards; nothing outlives it)."""
    from sqlalchemy import make_url

    from core.config import uses_pooler

    problem = writes_problem()
    if problem:
        raise WritesOff(problem)
    url = _write_url()
    options: dict[str, Any] = {
        "connect_timeout": int(settings.TARGET["CONNECT_TIMEOUT_S"]),
        "context": target_context(),  # dates and timestamps 'infinity' / '-infinity' load
    }
    if uses_pooler(make_url(url)):
        options["prepare_threshold"] = None
    try:
        conn = psycopg.connect(url, application_name=APPLICATION_NAME, **options)
    except psycopg.OperationalError as exc:
        raise WriteUnavailable(
            "The target database cannot be reached for writing right now; nothing was written.",
            f"{type(exc).__name__}: {exc}",
        ) from None
    try:
        yield conn
    finally:
        conn.close()


# -- what a write is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowChange:
    """One row to insert, update or delete (values are PostgreSQL text, None for NULL)."""

    table: str
    action: str
    key: tuple[tuple[str, str], ...] = ()  # insert: () when the database assigns the key
    values: tuple[tuple[str, str | None], ...] = ()  # insert: the columns given; update: set
    guard: str = ""  # update, delete: the fingerprint the row must still have
    guard_columns: tuple[str, ...] = ()  # the columns that fingerprint covers
    # delete: what the preview said the cascade touches, (table, action, rows)
    cascade: tuple[tuple[str, str, int], ...] = ()
    note: str = ""

    def described(self) -> dict[str, Any]:
        """Return the change as the audit trail records it (no values: see the statements);
        an update names the columns it sets (a revert must know when one is masked)."""
        described: dict[str, Any] = {
            "table": self.table,
            "action": self.action,
            "key": [list(pair) for pair in self.key],
            "note": self.note,
        }
        if self.action == "update":
            described["columns"] = [name for name, _ in self.values]
        return described


@dataclass(frozen=True)
class WritePlan:
    """Changes to one end-user's rows, in the order they run (parents before children)."""

    kind: str  # restore, edit, add, delete, revert
    subject: str
    changes: tuple[RowChange, ...]
    context: Mapping[str, Any] = field(default_factory=dict)  # branch, event… (JSON-safe)

    @property
    def tables(self) -> list[str]:
        return list(dict.fromkeys(change.table for change in self.changes))


@dataclass(frozen=True)
class ColumnType:
    type_sql: str
    identity: str = ""  # 'a' (always), 'd' (by default) or ''
    generated: str = ""  # 's' (stored) or ''


@dataclass
class WriteScope:
    """What the write role may do where: read from the target in the write's transaction."""

    owners: OwnershipMap
    subject: str
    role: str
    rls: frozenset[str]  # tables whose row-level security binds the write role
    columns: dict[str, dict[str, ColumnType]]  # per table, in column order


@dataclass(frozen=True)
class Statement:
    """One statement of a plan: the SQL that runs and the SQL shown (masked values hidden)."""

    sql: str
    shown: str
    index: int  # the change it carries out


@dataclass
class Preview:
    """A plan rendered for the operator: the statements, their digest, the scope they need."""

    plan: WritePlan
    statements: list[Statement]
    digest: str
    scope: WriteScope

    @property
    def rls_tables(self) -> list[str]:
        return [table for table in self.plan.tables if table in self.scope.rls]

    @property
    def predicate_tables(self) -> list[str]:
        return [table for table in self.plan.tables if table not in self.scope.rls]


@dataclass
class WriteError:
    """Why the database refused a statement: the sentence, and where it points."""

    sentence: str
    statement: int | None = None
    table: str = ""
    column: str = ""
    constraint: str = ""
    sqlstate: str = ""


@dataclass
class WriteOutcome:
    """What a write did: statements applied and skipped (with why), or the error."""

    write_id: str
    statements: list[Statement]
    applied: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)
    after: list[dict[str, Any]] = field(default_factory=list)
    error: WriteError | None = None
    intent: AuditEvent | None = None
    outcome: AuditEvent | None = None
    outcome_recorded: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


# -- catalog questions the door asks of its own role ----------------------------------------------

WRITE_ROLE_SQL = """
SELECT
    r.rolname AS role,
    r.rolsuper AS superuser,
    r.rolbypassrls AS bypassrls,
    EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = n.oid
          AND c.relkind IN ('r', 'p')
          AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
    ) AS owns_tables
FROM pg_catalog.pg_roles AS r
LEFT JOIN pg_catalog.pg_namespace AS n
    ON n.nspname = %(schema)s
WHERE r.rolname = current_user
"""

RLS_TABLES_SQL = """
SELECT c.relname AS name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND c.relkind IN ('r', 'p')
  AND c.relrowsecurity
"""

COLUMN_TYPES_SQL = """
SELECT
    c.relname AS table_name,
    a.attname AS column_name,
    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_sql,
    a.attidentity AS identity,
    a.attgenerated AS generated
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND c.relname = ANY(%(tables)s)
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""


def _scope(conn: psycopg.Connection, owners: OwnershipMap, subject: str) -> WriteScope:
    """Return the write scope read on `conn`, or refuse a role that could do harm."""
    schema = target_schema()
    role = conn.execute(WRITE_ROLE_SQL, {"schema": schema}).fetchone()
    assert role is not None
    name, superuser, bypassrls, owns_tables = role
    problems = [
        sentence
        for flag, sentence in (
            (superuser, "is a superuser"),
            (bypassrls, "has BYPASSRLS, so row-level security would not hold it"),
            (owns_tables, f"owns tables of schema {schema} (an owner bypasses their policies)"),
        )
        if flag
    ]
    if problems:
        raise WriteRefused(
            f"The write role “{name}” (TARGET_WRITE_DATABASE_URL) {'; '.join(problems)}, so the "
            "console will not write as it. Use the application's runtime role (for example "
            "todo_app), as the README's security section says."
        )
    rls = frozenset(row[0] for row in conn.execute(RLS_TABLES_SQL, {"schema": schema}))
    columns: dict[str, dict[str, ColumnType]] = {}
    for table, column, type_sql, identity, generated in conn.execute(
        COLUMN_TYPES_SQL, {"schema": schema, "tables": list(owners.owned)}
    ):
        columns.setdefault(table, {})[column] = ColumnType(type_sql, identity, generated)
    return WriteScope(owners, subject, str(name), rls, columns)


def _begin(conn: psycopg.Connection, subject: str) -> None:
    """Set the transaction's timeouts, text output and the end-user row-level security reads."""
    options = _settings()
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true), "
        "set_config('lock_timeout', %s, true), "
        "set_config(%s, %s, true)",
        (
            f"{_timeout_ms('STATEMENT_TIMEOUT_MS')}ms",
            f"{_timeout_ms('LOCK_TIMEOUT_MS')}ms",
            str(options["USER_SETTING"]),
            subject,
        ),
    )
    conn.execute(OUTPUT_SETTINGS_SQL, output_setting_values())


# -- rendering ------------------------------------------------------------------------------------


def _table(scope: WriteScope, name: str) -> Table:
    table = scope.owners.tables.get(name)
    if table is None or name not in scope.owners.owned:
        raise WriteRefused(f"“{name}” is not a table of end-users' data; it is not written here.")
    if name not in scope.columns:
        raise WriteRefused(f"The write role cannot see the table “{name}”.")
    return table


def key_condition(scope: WriteScope, change: RowChange, qualifier: str = "") -> str:
    types = scope.columns[change.table]
    return " AND ".join(
        f"{qualifier}{quote_identifier(name)} = {typed_literal(value, types[name].type_sql)}"
        for name, value in change.key
    )


def _ownership(scope: WriteScope, table: str, ref: Callable[[str], str]) -> str:
    path = scope.owners.owned[table].path
    return rows_of_user_sql(scope.owners, path, scope.subject, ref)


def _ownership_after(scope: WriteScope, change: RowChange, masked: set[str], shown: bool) -> str:
    """Return the ownership predicate of an updated row's new values (an assigned column as its
    new literal, another as the column): a restore or edit never moves a row out of the user's
    data, for instance onto a parent row that went to another user since."""
    values = dict(change.values)

    def ref(name: str) -> str:
        if name not in values:
            return quote_identifier(name)
        return _literal(scope, change.table, name, values[name], shown and name in masked)

    return _ownership(scope, change.table, ref)


def _literal(scope: WriteScope, table: str, name: str, value: str | None, masked: bool) -> str:
    types = scope.columns[table]
    if name not in types:
        raise WriteRefused(f"The table “{table}” has no column “{name}”.")
    if masked and value is not None:
        return typed_literal(MASK, types[name].type_sql)
    return typed_literal(value, types[name].type_sql)


def _render_one(scope: WriteScope, change: RowChange, index: int) -> Statement:
    if change.action not in ACTIONS:
        raise WriteRefused(f"Unknown change {change.action!r}.")
    table = _table(scope, change.table)
    key_names = [column.name for column in table.primary_key.columns]
    if not key_names:
        raise WriteRefused(
            f"“{change.table}” has no primary key, so its rows are not changed here."
        )
    if change.key and [name for name, _ in change.key] != key_names:
        raise WriteRefused(f"A change of “{change.table}” must name its whole primary key.")
    if change.action != "insert" and not (change.key and change.guard and change.guard_columns):
        raise WriteRefused(f"A {change.action} of “{change.table}” needs its key and its guard.")
    unknown = [n for n in change.guard_columns if n not in scope.columns[change.table]]
    if unknown:
        raise WriteRefused(f"The table “{change.table}” has no column {', '.join(unknown)}.")
    masked = masked_names(table)
    source = qualified_name(str(table.schema), table.name)
    guarded_by_rls = change.table in scope.rls
    texts = []
    for shown in (False, True):
        lines: list[str]
        if change.action == "insert":
            lines = _insert_lines(scope, change, source, key_names, masked if shown else set())
        else:
            values = dict(change.values)
            if change.action == "update":
                assignments = ", ".join(
                    f"{quote_identifier(name)} = "
                    f"{_literal(scope, change.table, name, value, shown and name in masked)}"
                    for name, value in values.items()
                )
                lines = [f"UPDATE {source}", f"SET {assignments}"]
            else:
                lines = [f"DELETE FROM {source}"]
            lines.append(f"WHERE {key_condition(scope, change)}")
            lines.append(
                f"  AND {fingerprint_sql(change.guard_columns)} = {quote_literal(change.guard)}"
            )
            if not guarded_by_rls:
                owned = _ownership(scope, change.table, quote_identifier)
                lines.append(f"  AND {owned}")
                after = _ownership_after(scope, change, masked, shown)
                if change.action == "update" and after != owned:  # it sets an owner column
                    lines.append(f"  AND {after}")
        texts.append("\n".join(lines))
    return Statement(sql=texts[0], shown=texts[1], index=index)


def _insert_lines(
    scope: WriteScope, change: RowChange, source: str, key_names: list[str], masked: set[str]
) -> list[str]:
    types = scope.columns[change.table]
    values = dict(change.values)
    for name, value in change.key:
        values.setdefault(name, value)
    if not values:
        raise WriteRefused(f"An added row of “{change.table}” needs at least one value.")
    generated = [name for name in values if name in types and types[name].generated]
    if generated:
        raise WriteRefused(
            f"{', '.join(generated)} of “{change.table}” are computed by the database."
        )
    names = ", ".join(quote_identifier(name) for name in values)
    literals = {
        name: _literal(scope, change.table, name, value, name in masked)
        for name, value in values.items()
    }
    lines = [f"INSERT INTO {source} ({names})"]
    if any(types[name].identity == "a" for name in values):
        lines.append("OVERRIDING SYSTEM VALUE")
    listed = ", ".join(literals.values())
    if change.table in scope.rls:
        lines.append(f"VALUES ({listed})")
    else:

        def ref(name: str) -> str:
            if name not in literals:
                raise WriteRefused(
                    f"An added row of “{change.table}” must give {name}, the column that ties "
                    "it to the end-user."
                )
            return literals[name]

        lines.append(f"SELECT {listed}")
        lines.append(f"WHERE {_ownership(scope, change.table, ref)}")
    if all(name in values for name in key_names):
        lines.append(
            f"ON CONFLICT ({', '.join(quote_identifier(n) for n in key_names)}) DO NOTHING"
        )
    else:
        lines.append("RETURNING " + ", ".join(f"{quote_identifier(n)}::text" for n in key_names))
    return lines


def render(plan: WritePlan, scope: WriteScope) -> list[Statement]:
    """Return the statements that carry out `plan`, one per change, in order."""
    if not plan.changes:
        raise WriteRefused("There is nothing to change.")
    if len(plan.changes) > max_rows():
        raise WriteRefused(
            f"This change touches {len(plan.changes)} rows; one change may touch at most "
            f"{max_rows()} (DATA_WRITE_MAX_ROWS). Select fewer rows."
        )
    return [_render_one(scope, change, index) for index, change in enumerate(plan.changes)]


def digest(statements: list[Statement]) -> str:
    """Return a keyed digest of the statements that run (it reveals nothing of their values)."""
    body = "\n;\n".join(statement.sql for statement in statements).encode()
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()[:32]


def preview(plan: WritePlan, owners: OwnershipMap) -> Preview:
    """Return the statements of `plan` as they would run now, for the operator to confirm."""
    with _connection() as conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            _begin(conn, plan.subject)
            scope = _scope(conn, owners, plan.subject)
            statements = render(plan, scope)
        except psycopg.Error as exc:
            raise _unavailable_or_refused(exc) from None
        finally:
            if not conn.closed:
                conn.rollback()
    return Preview(plan, statements, digest(statements), scope)


def _timed_out(exc: psycopg.Error) -> str:
    """Return why a lock or statement timeout stopped a statement ('' for another error)."""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return (
            "it waited longer than TARGET_WRITE_LOCK_TIMEOUT_MS "
            f"({_timeout_ms('LOCK_TIMEOUT_MS')} ms) for a lock another session holds"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return (
            "it took longer than TARGET_WRITE_STATEMENT_TIMEOUT_MS "
            f"({_timeout_ms('STATEMENT_TIMEOUT_MS')} ms), or it was cancelled"
        )
    return ""


def _unavailable_or_refused(exc: psycopg.Error) -> WriteRefused:
    # A timeout first: it is an OperationalError too, but the database answered.
    why = _timed_out(exc)
    if why:
        return WriteRefused(
            f"The write was stopped before it changed anything: {why}. Nothing was written; "
            "try again in a moment.",
            str(exc),
        )
    if isinstance(exc, psycopg.OperationalError):
        return WriteUnavailable(
            "The target database stopped answering; nothing was written.", str(exc)
        )
    return WriteRefused(
        f"The target database refused the write role's reading: {type(exc).__name__}.", str(exc)
    )


# -- images: the rows as they were and became -----------------------------------------------------


def _image_select(scope: WriteScope, table: Table, where: str) -> tuple[str, list[str]]:
    names = list(scope.columns[table.name])
    selected = ", ".join(f"{quote_identifier(n)}::text" for n in names)
    source = qualified_name(str(table.schema), table.name)
    sql = (
        f"SELECT {selected}, {fingerprint_sql(names)} AS {FINGERPRINT_LABEL} "
        f"FROM {source} WHERE {where}"
    )
    return sql, names


def _read_images(
    conn: psycopg.Connection,
    scope: WriteScope,
    table: str,
    where: str,
    role: str,
    index: int,
    *,
    lock: bool,
) -> list[dict[str, Any]]:
    """Return the rows of `table` matching `where` as images (masked values hidden)."""
    sql, names = _image_select(scope, scope.owners.tables[table], where)
    if table not in scope.rls:
        sql += f" AND {_ownership(scope, table, quote_identifier)}"
    if lock:
        sql += " FOR UPDATE"
    masked = masked_names(scope.owners.tables[table])
    key = [column.name for column in scope.owners.tables[table].primary_key.columns]
    images = []
    for row in conn.execute(sql):
        values = dict(zip(names, row[: len(names)], strict=True))
        images.append(
            {
                "table": table,
                "key": [[name, values[name]] for name in key],
                "columns": names,
                "values": shown_values(values, masked),
                "masked": sorted(n for n in masked if values.get(n) is not None),
                "fingerprint": row[len(names)],
                "role": role,
                "change": index,
            }
        )
    return images


def _effects(scope: WriteScope, change: RowChange) -> list[Effect]:
    table = scope.owners.tables[change.table]
    return delete_effects(scope.owners.tables, table, key_condition(scope, change))


def _before_images(
    conn: psycopg.Connection, scope: WriteScope, plan: WritePlan
) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = []
    for index, change in enumerate(plan.changes):
        if change.key:
            where = key_condition(scope, change)
            images += _read_images(conn, scope, change.table, where, "row", index, lock=True)
        if change.action != "delete":
            continue
        expected = {(table, action): rows for table, action, rows in change.cascade}
        for effect in _effects(scope, change):
            if effect.action == "blocked":
                continue
            if effect.table not in scope.owners.owned or effect.table not in scope.columns:
                raise WriteRefused(
                    f"Deleting this row would also change “{effect.table}”, which is not a "
                    "table of end-users' data; the console does not do that."
                )
            found = _read_images(
                conn,
                scope,
                effect.table,
                f"({effect.predicate})",
                f"cascade:{effect.action}",
                index,
                lock=True,
            )
            if len(found) != expected.get((effect.table, effect.action), 0):
                raise WriteRefused(
                    f"Deleting this row would now {effect.action} {len(found)} row(s) of "
                    f"“{effect.table}”, not the {expected.get((effect.table, effect.action), 0)} "
                    "the preview showed: rows came or went since, or rows of another end-user "
                    "(which the console never changes) are among them. Look at the preview again.",
                )
            images += found
    if len(images) > max_rows():
        raise WriteRefused(
            f"This change would touch {len(images)} rows; one change may touch at most "
            f"{max_rows()} (DATA_WRITE_MAX_ROWS), so that the audit trail keeps every one."
        )
    return images


def _after_image(
    conn: psycopg.Connection, scope: WriteScope, change: RowChange, key: tuple, index: int
) -> list[dict[str, Any]]:
    keyed = RowChange(change.table, change.action, key=key)
    return _read_images(
        conn, scope, change.table, key_condition(scope, keyed), "row", index, lock=False
    )


def _skipped_why(conn: psycopg.Connection, scope: WriteScope, change: RowChange) -> str:
    if change.action == "insert":
        if change.key:
            return "a row with this key exists now (it was not overwritten)"
        return "the row would not belong to this end-user"
    where = key_condition(scope, change)
    if _read_images(conn, scope, change.table, where, "row", 0, lock=False):
        return "the row changed since it was shown (it was not overwritten)"
    return "the row is no longer there (deleted, or not this end-user's)"


# -- applying -------------------------------------------------------------------------------------


def _database_error(exc: psycopg.Error, index: int | None) -> WriteError:
    diag = exc.diag
    sentence = _timed_out(exc) or diag.message_primary or type(exc).__name__
    return WriteError(
        sentence=sentence,
        statement=index,
        table=diag.table_name or "",
        column=diag.column_name or "",
        constraint=diag.constraint_name or "",
        sqlstate=diag.sqlstate or "",
    )


def apply(
    request: HttpRequest, plan: WritePlan, owners: OwnershipMap, reason: str, shown_digest: str
) -> WriteOutcome:
    """Carry out `plan` as previewed (its digest must match), audited before and after.

    Raises WriteRefused (nothing written) when writes are off, the role could do harm, the
    statements changed since the preview, the cascade changed, or the console's database cannot
    record the intent. A database error ends in a rolled-back outcome with `error` set.
    """
    if not reason.strip():
        raise ReasonMissing()
    write_id = uuid.uuid4().hex
    with _connection() as conn:
        try:
            _begin(conn, plan.subject)
            scope = _scope(conn, owners, plan.subject)
            _refuse_twice(conn, str(plan.context.get("once", "")))
            statements = render(plan, scope)
            if not hmac.compare_digest(digest(statements), shown_digest):
                raise WriteRefused(
                    "The statements are no longer the ones shown in the preview (the data or "
                    "the schema changed). Look at the preview again."
                )
            before = _before_images(conn, scope, plan)
        except psycopg.Error as exc:
            with suppress(psycopg.Error):  # a lost session: the server rolled back already
                conn.rollback()
            raise _unavailable_or_refused(exc) from None
        except WriteRefused:
            conn.rollback()
            raise
        outcome = WriteOutcome(write_id, statements, before=before)
        detail = {
            "write_id": write_id,
            "kind": plan.kind,
            "context": dict(plan.context),
            "role": scope.role,
            "rls_tables": [t for t in plan.tables if t in scope.rls],
            "changes": [change.described() for change in plan.changes],
            "statements": [statement.shown for statement in statements],
            "before": before,
        }
        try:
            outcome.intent = _record(request, INTENT, plan, reason, detail)
        except ConsoleDatabaseError as exc:
            conn.rollback()
            logger.warning(
                "write %s refused: its intent could not be recorded (%s)",
                write_id,
                type(exc).__name__,
            )
            raise WriteUnavailable(
                "The console's own database cannot be reached, so this change could not be "
                "written to the audit trail first: nothing was written. Try again when it is "
                "back."
            ) from None
        _execute(conn, scope, plan, outcome)
    _record_outcome(request, plan, reason, outcome)
    return outcome


def _refuse_twice(conn: psycopg.Connection, once: str) -> None:
    """Refuse a plan whose one-time mark (`context["once"]`) an applied write carried already.

    An added row whose key the database assigns has no fingerprint or key to guard it: the
    same form posted twice would add two rows. The advisory lock, held until this transaction
    ends, makes a concurrent second submit wait until the first's intent is recorded.
    """
    if not once:
        return
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"schemadesk:{once}",))
    try:
        for intent in AuditEvent.objects.filter(action=INTENT, detail__context__once=once):
            done = AuditEvent.objects.filter(action=OUTCOME, detail__intent=intent.pk).first()
            if done is None or done.detail.get("applied"):  # applied, or not known not to be
                raise WriteRefused(
                    f"This change was applied already (audit event #{intent.pk}); it is not "
                    "applied twice. Open the form again to make another."
                )
    except ConsoleDatabaseError:
        raise WriteUnavailable(
            "The console's own database cannot be reached, so it cannot tell whether this "
            "change was applied already: nothing was written."
        ) from None


def _execute(
    conn: psycopg.Connection, scope: WriteScope, plan: WritePlan, outcome: WriteOutcome
) -> None:
    """Run the statements and commit, or roll back and note the error on `outcome`."""
    index: int | None = None
    try:
        for statement in outcome.statements:
            index = statement.index
            change = plan.changes[index]
            cursor = conn.execute(statement.sql)
            if cursor.rowcount == 0:
                outcome.skipped.append((index, _skipped_why(conn, scope, change)))
                continue
            outcome.applied.append(index)
            if change.action == "delete":
                continue
            key = change.key
            if not key:
                returned = cursor.fetchone()
                names = [c.name for c in scope.owners.tables[change.table].primary_key.columns]
                # The INSERT ... RETURNING of one row answers that row.
                key = tuple(zip(names, returned, strict=True))  # type: ignore[arg-type]
            outcome.after += _after_image(conn, scope, change, key, index)
        index = None
        conn.commit()
    except psycopg.Error as exc:
        # A session lost midway cannot roll back: the server already did. Its outcome is
        # recorded all the same (never an intent left alone in the trail).
        with suppress(psycopg.Error):
            conn.rollback()
        outcome.applied, outcome.skipped, outcome.after = [], [], []
        outcome.error = _database_error(exc, index)


def _record_outcome(
    request: HttpRequest, plan: WritePlan, reason: str, outcome: WriteOutcome
) -> None:
    detail: dict[str, Any] = {
        "write_id": outcome.write_id,
        "kind": plan.kind,
        "intent": outcome.intent.pk if outcome.intent else None,
        "status": "failed" if outcome.error else "applied",
        "applied": outcome.applied,
        "skipped": [{"statement": index, "why": why} for index, why in outcome.skipped],
        "after": outcome.after,
    }
    if outcome.error:
        detail["error"] = {
            "sentence": outcome.error.sentence,
            "statement": outcome.error.statement,
            "table": outcome.error.table,
            "column": outcome.error.column,
            "constraint": outcome.error.constraint,
            "sqlstate": outcome.error.sqlstate,
        }
    try:
        outcome.outcome = _record(request, OUTCOME, plan, reason, detail)
    except ConsoleDatabaseError as exc:
        outcome.outcome_recorded = False
        logger.error(
            "write %s %s but its outcome could not be recorded (%s); its intent is event #%s",
            outcome.write_id,
            detail["status"],
            type(exc).__name__,
            outcome.intent.pk if outcome.intent else "?",
        )


def _record(
    request: HttpRequest, action: str, plan: WritePlan, reason: str, detail: dict[str, Any]
) -> AuditEvent:
    """Write one event of a write: its end-user, its tables, the change's reason."""
    return record(
        request, action, subject_user=plan.subject, tables=plan.tables, reason=reason, detail=detail
    )
