"""SQLModel models of the application: users, tasks, conversations, messages.

Every constraint and index has an explicit, stable name (the naming convention below), so the
migrations, autogenerate and the console's drift check all agree on names. Rows belong to a
user and go away with it: every foreign key is ON DELETE CASCADE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Set before any table is declared: constraint names are computed when a table is built.
SQLModel.metadata.naming_convention = NAMING_CONVENTION

PRIORITIES = ("low", "medium", "high")
ROLES = ("user", "assistant")
RECURRENCES = ("daily", "weekly", "monthly")
TITLE_MAX = 200
DESCRIPTION_MAX = 1000
EMAIL_MAX = 320


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _timestamp(*, nullable: bool = False, default_now: bool = True) -> Column:
    return Column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=func.now() if default_now else None,
    )


def _owner_fk() -> Column:
    return Column(
        Text,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def _bigint_pk() -> Column:
    return Column(BigInteger, Identity(always=False), primary_key=True)


class User(SQLModel, table=True):
    """An end-user, keyed by the id the auth provider issued."""

    __tablename__ = "users"

    id: str = Field(sa_column=Column(Text, primary_key=True))
    email: str = Field(
        max_length=EMAIL_MAX,
        sa_column=Column(String(EMAIL_MAX), nullable=False, unique=True, index=True),
    )
    name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = Field(default=None, sa_column=_timestamp())


class Task(SQLModel, table=True):
    """A to-do item of one user."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(f"priority IN ({_quoted(PRIORITIES)})", name="priority"),
        Index("ix_tasks_user_id_completed", "user_id", "completed"),
    )

    id: int | None = Field(default=None, sa_column=_bigint_pk())
    user_id: str = Field(sa_column=_owner_fk())
    title: str = Field(max_length=TITLE_MAX, sa_column=Column(String(TITLE_MAX), nullable=False))
    description: str | None = Field(
        default=None,
        max_length=DESCRIPTION_MAX,
        sa_column=Column(String(DESCRIPTION_MAX), nullable=True),
    )
    completed: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=text("false"), index=True),
    )
    priority: str = Field(
        default="medium",
        sa_column=Column(Text, nullable=False, server_default=text("'medium'")),
    )
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    )
    due_date: datetime | None = Field(
        default=None, sa_column=_timestamp(nullable=True, default_now=False)
    )
    recurrence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = Field(default=None, sa_column=_timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=_timestamp())


class Conversation(SQLModel, table=True):
    """A chat thread of one user."""

    __tablename__ = "conversations"

    id: int | None = Field(default=None, sa_column=_bigint_pk())
    user_id: str = Field(sa_column=_owner_fk())
    created_at: datetime | None = Field(default=None, sa_column=_timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=_timestamp())


class Message(SQLModel, table=True):
    """One message of a conversation, written by the user or the assistant."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN ({_quoted(ROLES)})", name="role"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=_bigint_pk())
    # Indexed too: deleting a user cascades here, and without an index that is a full scan.
    user_id: str = Field(sa_column=_owner_fk())
    conversation_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        )
    )
    role: str = Field(sa_column=Column(Text, nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=_timestamp())


USER_TABLES = ("users", "tasks", "conversations", "messages")
