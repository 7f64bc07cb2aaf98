"""A user's tasks: list (keyset pages), get, create, update, complete, delete.

Every function takes the acting user's id, sets it for the transaction (row-level security)
and filters on it in SQL as well; another user's task id behaves as a missing one. The
functions run inside the caller's transaction and do not commit (see `user_session`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, tuple_, update
from sqlmodel import Session, col, select

from core.access.cursor import Page, check_limit, decode_cursor, page_of
from core.access.scope import set_current_user
from core.access.validation import (
    UNSET,
    Unset,
    checked_description,
    checked_due_date,
    checked_priority,
    checked_recurrence,
    checked_tags,
    checked_title,
)
from core.models import Task

KIND = "tasks"


def list_tasks(
    session: Session,
    user_id: str,
    *,
    completed: bool | None = None,
    priority: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Task]:
    """Return one page of the user's tasks, newest first, and the cursor of the next page."""
    set_current_user(session, user_id)
    check_limit(limit)
    query = select(Task).where(Task.user_id == user_id)
    if completed is not None:
        query = query.where(Task.completed == completed)
    if priority is not None:
        query = query.where(Task.priority == checked_priority(priority))
    if cursor is not None:
        moment, row_id = decode_cursor(KIND, cursor)
        query = query.where(tuple_(col(Task.created_at), col(Task.id)) < tuple_(moment, row_id))
    query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc()).limit(limit + 1)
    return page_of(KIND, list(session.exec(query).all()), limit, "created_at")


def get_task(session: Session, user_id: str, task_id: int) -> Task | None:
    """Return the user's task with this id, or None (also when it is another user's)."""
    set_current_user(session, user_id)
    query = select(Task).where(Task.id == task_id, Task.user_id == user_id)
    return session.exec(query).first()


def create_task(
    session: Session,
    user_id: str,
    *,
    title: str,
    description: str | None = None,
    priority: str = "medium",
    tags: Iterable[str] = (),
    due_date: datetime | None = None,
    recurrence: str | None = None,
) -> Task:
    """Return the new task of the user (flushed: it has its id and timestamps)."""
    set_current_user(session, user_id)
    task = Task(
        user_id=user_id,
        title=checked_title(title),
        description=checked_description(description),
        priority=checked_priority(priority),
        tags=checked_tags(tags),
        due_date=checked_due_date(due_date),
        recurrence=checked_recurrence(recurrence),
    )
    session.add(task)
    session.flush()
    return task


def _update(session: Session, user_id: str, task_id: int, values: dict[str, Any]) -> Task | None:
    set_current_user(session, user_id)
    statement = (
        update(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .values(**values, updated_at=func.now())
        .returning(Task)
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).scalars().first()


def update_task(
    session: Session,
    user_id: str,
    task_id: int,
    *,
    title: str | Unset = UNSET,
    description: str | Unset | None = UNSET,
    priority: str | Unset = UNSET,
    tags: Iterable[str] | Unset = UNSET,
    due_date: datetime | Unset | None = UNSET,
    recurrence: str | Unset | None = UNSET,
    completed: bool | Unset = UNSET,
) -> Task | None:
    """Return the user's task with the given fields changed, or None if not the user's."""
    values: dict[str, Any] = {}
    if title is not UNSET:
        values["title"] = checked_title(title)
    if description is not UNSET:
        values["description"] = checked_description(description)
    if priority is not UNSET:
        values["priority"] = checked_priority(priority)
    if tags is not UNSET:
        values["tags"] = checked_tags(tags)
    if due_date is not UNSET:
        values["due_date"] = checked_due_date(due_date)
    if recurrence is not UNSET:
        values["recurrence"] = checked_recurrence(recurrence)
    if completed is not UNSET:
        values["completed"] = bool(completed)
    return _update(session, user_id, task_id, values)


def complete_task(
    session: Session, user_id: str, task_id: int, completed: bool = True
) -> Task | None:
    """Return the user's task marked completed (or not), or None if not the user's."""
    return _update(session, user_id, task_id, {"completed": completed})


def delete_task(session: Session, user_id: str, task_id: int) -> bool:
    """Return True if the user's task was deleted, False if there was no such task of theirs."""
    set_current_user(session, user_id)
    statement = (
        delete(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .returning(col(Task.id))
        .execution_options(synchronize_session="fetch")
    )
    return session.exec(statement).first() is not None
