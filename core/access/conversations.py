"""A user's conversations and their messages: list (keyset pages), create, update, delete.

Same rules as core.access.tasks: the acting user is set for the transaction and filtered on in
SQL; another user's conversation or message behaves as a missing one; nothing commits here.
"""

from __future__ import annotations

from sqlalchemy import delete, func, tuple_, update
from sqlmodel import Session, col, select

from core.access.cursor import Page, check_limit, decode_cursor, page_of
from core.access.scope import set_current_user
from core.access.validation import checked_content, checked_role
from core.models import Conversation, Message

CONVERSATIONS = "conversations"
MESSAGES = "messages"


def list_conversations(
    session: Session, user_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[Conversation]:
    """Return one page of the user's conversations, most recently active first."""
    set_current_user(session, user_id)
    check_limit(limit)
    query = select(Conversation).where(Conversation.user_id == user_id)
    if cursor is not None:
        moment, row_id = decode_cursor(CONVERSATIONS, cursor)
        query = query.where(
            tuple_(col(Conversation.updated_at), col(Conversation.id)) < tuple_(moment, row_id)
        )
    query = query.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc()).limit(
        limit + 1
    )
    return page_of(CONVERSATIONS, list(session.exec(query).all()), limit, "updated_at")


def get_conversation(session: Session, user_id: str, conversation_id: int) -> Conversation | None:
    """Return the user's conversation with this id, or None (also when it is another user's)."""
    set_current_user(session, user_id)
    query = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.user_id == user_id
    )
    return session.exec(query).first()


def create_conversation(session: Session, user_id: str) -> Conversation:
    """Return a new, empty conversation of the user (flushed: it has its id)."""
    set_current_user(session, user_id)
    conversation = Conversation(user_id=user_id)
    session.add(conversation)
    session.flush()
    return conversation


def touch_conversation(session: Session, user_id: str, conversation_id: int) -> Conversation | None:
    """Return the user's conversation with updated_at set to now, or None if not the user's."""
    set_current_user(session, user_id)
    statement = (
        update(Conversation)
        .where(col(Conversation.id) == conversation_id, col(Conversation.user_id) == user_id)
        .values(updated_at=func.now())
        .returning(Conversation)
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).scalars().first()


def delete_conversation(session: Session, user_id: str, conversation_id: int) -> bool:
    """Return True if the user's conversation (and its messages) was deleted."""
    set_current_user(session, user_id)
    statement = (
        delete(Conversation)
        .where(col(Conversation.id) == conversation_id, col(Conversation.user_id) == user_id)
        .returning(col(Conversation.id))
        .execution_options(synchronize_session="fetch")
    )
    return session.exec(statement).first() is not None


def list_messages(
    session: Session,
    user_id: str,
    conversation_id: int,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Message] | None:
    """Return one page of a conversation's messages, oldest first; None if not the user's."""
    if get_conversation(session, user_id, conversation_id) is None:
        return None
    check_limit(limit)
    query = select(Message).where(
        Message.conversation_id == conversation_id, Message.user_id == user_id
    )
    if cursor is not None:
        moment, row_id = decode_cursor(MESSAGES, cursor)
        query = query.where(
            tuple_(col(Message.created_at), col(Message.id)) > tuple_(moment, row_id)
        )
    query = query.order_by(col(Message.created_at), col(Message.id)).limit(limit + 1)
    return page_of(MESSAGES, list(session.exec(query).all()), limit, "created_at")


def add_message(
    session: Session, user_id: str, conversation_id: int, *, role: str, content: str
) -> Message | None:
    """Return the new message in the user's conversation, or None if it is not theirs."""
    role, content = checked_role(role), checked_content(content)
    # Touching the conversation both proves it is the user's and moves it up the list.
    if touch_conversation(session, user_id, conversation_id) is None:
        return None
    message = Message(user_id=user_id, conversation_id=conversation_id, role=role, content=content)
    session.add(message)
    session.flush()
    return message


def update_message(
    session: Session, user_id: str, message_id: int, *, content: str
) -> Message | None:
    """Return the user's message with new content, or None if it is not theirs."""
    set_current_user(session, user_id)
    statement = (
        update(Message)
        .where(col(Message.id) == message_id, col(Message.user_id) == user_id)
        .values(content=checked_content(content))
        .returning(Message)
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).scalars().first()


def delete_message(session: Session, user_id: str, message_id: int) -> bool:
    """Return True if the user's message was deleted, False if there was no such message."""
    set_current_user(session, user_id)
    statement = (
        delete(Message)
        .where(col(Message.id) == message_id, col(Message.user_id) == user_id)
        .returning(col(Message.id))
        .execution_options(synchronize_session="fetch")
    )
    return session.exec(statement).first() is not None
