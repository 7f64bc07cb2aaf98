"""The acting user of a transaction: the RLS setting, and sessions scoped to one user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

CURRENT_USER_SETTING = "app.current_user_id"
_SET_CURRENT_USER = text("SELECT set_config('app.current_user_id', :user_id, true)")


def checked_user_id(user_id: str) -> str:
    """Return `user_id` if it can name a user (a non-empty string), else raise ValueError."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("the acting user id must be a non-empty string")
    return user_id


def set_current_user(session: Session, user_id: str) -> None:
    """Set the acting user for the current transaction only (SET LOCAL semantics)."""
    # is_local=true: the setting ends with the transaction, so a pooled server connection
    # handed to another client next never carries this user (see docs/rls.md).
    # SQLModel types exec() for SELECTs only; a TextClause runs the same way.
    session.exec(_SET_CURRENT_USER, params={"user_id": checked_user_id(user_id)})  # type: ignore[call-overload]


@contextmanager
def user_session(user_id: str, sessions: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """Yield a session in a transaction scoped to `user_id`; commit on success, else roll back."""
    if sessions is None:
        from core.engine import app_sessions

        sessions = app_sessions()
    with sessions() as session, session.begin():
        set_current_user(session, user_id)
        yield session
