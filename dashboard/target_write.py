"""The one door through which the console writes to the target database.

The read gateway (dashboard/target.py) only reads. Row changes (a restore from a branch, an
edit, an added or deleted row, the revert of one of these) all come here as a WritePlan: changes
to one end-user's rows. This module alone runs a plan (its siblings say what a write is,
write_plan.py; its settings, write_settings.py; the role's scope, write_scope.py; its SQL,
write_statements.py; the rows before and after, write_images.py), so every statement that
reaches the application's data has the same guards:

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

import hmac
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
import psycopg.errors
from django.conf import settings
from django.db import Error as ConsoleDatabaseError
from django.http import HttpRequest

from dashboard import write_images
from dashboard.audit.models import AuditEvent
from dashboard.audit.services import record
from dashboard.console_work import APPLICATION_NAME
from dashboard.infinite_dates import target_context
from dashboard.row_text import OUTPUT_SETTINGS_SQL, output_setting_values
from dashboard.users.ownership import OwnershipMap
from dashboard.write_plan import (
    Preview,
    ReasonMissing,
    WriteError,
    WriteOutcome,
    WritePlan,
    WriteRefused,
    WriteScope,
    WritesOff,
    WriteUnavailable,
)
from dashboard.write_scope import read_scope
from dashboard.write_settings import timeout_ms, write_options, writes_problem
from dashboard.write_statements import digest, render

logger = logging.getLogger(__name__)

INTENT = "write.intent"
OUTCOME = "write.outcome"


# -- the connection and its transaction -----------------------------------------------------------


def _write_url() -> str:
    from dashboard.config import checked_database_url

    url = checked_database_url(str(write_options()["URL_VAR"]))
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


def _begin(conn: psycopg.Connection, subject: str) -> None:
    """Set the transaction's timeouts, text output and the end-user row-level security reads."""
    options = write_options()
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true), "
        "set_config('lock_timeout', %s, true), "
        "set_config(%s, %s, true)",
        (
            f"{timeout_ms('STATEMENT_TIMEOUT_MS')}ms",
            f"{timeout_ms('LOCK_TIMEOUT_MS')}ms",
            str(options["USER_SETTING"]),
            subject,
        ),
    )
    conn.execute(OUTPUT_SETTINGS_SQL, output_setting_values())


# -- previewing -----------------------------------------------------------------------------------


def preview(plan: WritePlan, owners: OwnershipMap) -> Preview:
    """Return the statements of `plan` as they would run now, for the operator to confirm."""
    with _connection() as conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            _begin(conn, plan.subject)
            scope = read_scope(conn, owners, plan.subject)
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
            f"({timeout_ms('LOCK_TIMEOUT_MS')} ms) for a lock another session holds"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return (
            "it took longer than TARGET_WRITE_STATEMENT_TIMEOUT_MS "
            f"({timeout_ms('STATEMENT_TIMEOUT_MS')} ms), or it was cancelled"
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
            scope = read_scope(conn, owners, plan.subject)
            _refuse_twice(conn, str(plan.context.get("once", "")))
            statements = render(plan, scope)
            if not hmac.compare_digest(digest(statements), shown_digest):
                raise WriteRefused(
                    "The statements are no longer the ones shown in the preview (the data or "
                    "the schema changed). Look at the preview again."
                )
            before = write_images.before_images(conn, scope, plan)
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
                outcome.skipped.append((index, write_images.skipped_why(conn, scope, change)))
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
            outcome.after += write_images.after_image(conn, scope, change, key, index)
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
