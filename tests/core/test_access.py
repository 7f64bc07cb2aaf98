"""User-scoped access: each function acts for one user and cannot reach another user's rows.

Every scoping test runs twice: as the application role (row-level security applies too) and
as the table owner (RLS does not apply), so the SQL filter on user_id is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core.access import (
    InvalidCursor,
    add_message,
    complete_task,
    create_conversation,
    create_task,
    delete_conversation,
    delete_message,
    delete_task,
    get_conversation,
    get_task,
    list_conversations,
    list_messages,
    list_tasks,
    touch_conversation,
    update_message,
    update_task,
    user_session,
)
from core.engine import session_factory


@pytest.fixture(params=["app", "owner"])
def sessions(request, app_engine: Engine, owner_engine: Engine) -> sessionmaker[Session]:
    """Session factories as todo_app (RLS on) and as the owner (RLS off)."""
    return session_factory(app_engine if request.param == "app" else owner_engine)


def _task_row(owner_engine: Engine, task_id: int) -> dict:
    with owner_engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM tasks WHERE id = :id"), {"id": task_id}).one()
    return dict(row._mapping)


def test_a_cannot_reach_bs_task(
    sessions: sessionmaker[Session], owner_engine: Engine, make_user: Callable[..., str]
):
    alice, bob = make_user("alice"), make_user("bob")
    with user_session(bob, sessions) as session:
        bobs = create_task(session, bob, title="Bob's secret", tags=["private"])
    before = _task_row(owner_engine, bobs.id)

    with user_session(alice, sessions) as session:
        assert get_task(session, alice, bobs.id) is None
        assert list_tasks(session, alice).items == []
        assert update_task(session, alice, bobs.id, title="pwned") is None
        assert complete_task(session, alice, bobs.id) is None
        assert delete_task(session, alice, bobs.id) is False

    assert _task_row(owner_engine, bobs.id) == before
    with user_session(bob, sessions) as session:
        assert get_task(session, bob, bobs.id).title == "Bob's secret"


def test_task_lifecycle(sessions: sessionmaker[Session], make_user: Callable[..., str]):
    user = make_user()
    due = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    with user_session(user, sessions) as session:
        task = create_task(
            session,
            user,
            title="  Water the plants  ",
            priority="high",
            tags=["home", "home", "plants"],
            due_date=due,
            recurrence="weekly",
        )
        assert task.id is not None and task.created_at is not None
        assert task.title == "Water the plants"
        assert task.tags == ["home", "plants"]
        assert task.completed is False
        created = task.created_at
    with user_session(user, sessions) as session:
        updated = update_task(session, user, task.id, description="Balcony too", priority="low")
        assert updated is not None
        assert updated.description == "Balcony too"
        assert updated.priority == "low"
        assert updated.title == "Water the plants"  # untouched fields stay
        assert updated.recurrence == "weekly"
        assert updated.updated_at > created
    with user_session(user, sessions) as session:
        assert complete_task(session, user, task.id).completed is True
        assert complete_task(session, user, task.id, completed=False).completed is False
        assert update_task(session, user, task.id, due_date=None, recurrence=None).due_date is None
    with user_session(user, sessions) as session:
        assert delete_task(session, user, task.id) is True
        assert delete_task(session, user, task.id) is False
        assert get_task(session, user, task.id) is None


def test_keyset_pages_cover_everything_once(
    sessions: sessionmaker[Session], make_user: Callable[..., str]
):
    user, other = make_user(), make_user("other")
    created: list[int] = []
    for batch in range(3):  # separate transactions: distinct created_at; within one: ties
        with user_session(user, sessions) as session:
            for n in range(3):
                created.append(create_task(session, user, title=f"task {batch}.{n}").id)
    with user_session(other, sessions) as session:
        create_task(session, other, title="not mine")

    seen: list[int] = []
    cursor = None
    sizes = []
    while True:
        with user_session(user, sessions) as session:
            page = list_tasks(session, user, limit=4, cursor=cursor)
        sizes.append(len(page.items))
        seen += [task.id for task in page.items]
        assert all(task.user_id == user for task in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sizes == [4, 4, 1]
    assert sorted(seen) == sorted(created)
    # Newest first: by creation time, then by id within one transaction.
    assert seen == sorted(created, key=lambda i: (created.index(i) // 3, i), reverse=True)


def test_list_filters(sessions: sessionmaker[Session], make_user: Callable[..., str]):
    user = make_user()
    with user_session(user, sessions) as session:
        done = create_task(session, user, title="done", priority="high")
        create_task(session, user, title="open", priority="low")
        complete_task(session, user, done.id)
    with user_session(user, sessions) as session:
        assert [t.title for t in list_tasks(session, user, completed=True).items] == ["done"]
        assert [t.title for t in list_tasks(session, user, completed=False).items] == ["open"]
        assert [t.title for t in list_tasks(session, user, priority="low").items] == ["open"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "eyJhIjoxfQ",
        "WyJjb252ZXJzYXRpb25zIiwiMjAyNS0wMS0wMVQwMDowMDowMCswMDowMCIsMV0",
    ],
)
def test_bad_cursors_are_refused(
    app_sessions: sessionmaker[Session], make_user: Callable[..., str], cursor: str
):
    user = make_user()
    with user_session(user, app_sessions) as session, pytest.raises(InvalidCursor):
        list_tasks(session, user, cursor=cursor)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "x" * 201}, "at most 200"),
        ({"title": "   "}, "must not be empty"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "description": "x" * 1001}, "at most 1000"),
        ({"title": "ok", "due_date": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"title": "ok", "recurrence": "hourly"}, "recurrence"),
        ({"title": "ok", "tags": "home"}, "tags"),
    ],
)
def test_create_task_validates(
    app_sessions: sessionmaker[Session], make_user: Callable[..., str], changes, message
):
    user = make_user()
    with user_session(user, app_sessions) as session, pytest.raises(ValueError, match=message):
        create_task(session, user, **changes)


def test_limit_is_bounded(app_sessions: sessionmaker[Session], make_user: Callable[..., str]):
    user = make_user()
    with user_session(user, app_sessions) as session:
        for limit in (0, 201):
            with pytest.raises(ValueError, match="limit"):
                list_tasks(session, user, limit=limit)


def test_blank_user_id_is_refused(app_sessions: sessionmaker[Session]):
    with pytest.raises(ValueError, match="user id"), user_session("", app_sessions):
        pass


def test_functions_set_the_rls_setting_for_the_transaction(
    app_sessions: sessionmaker[Session], make_user: Callable[..., str]
):
    user = make_user()
    with app_sessions() as session, session.begin():
        list_tasks(session, user)
        setting = text("SELECT current_setting('app.current_user_id', true)")
        assert session.execute(setting).scalar() == user


# -- conversations and messages -------------------------------------------------------------
def test_a_cannot_reach_bs_conversation_or_messages(
    sessions: sessionmaker[Session], owner_engine: Engine, make_user: Callable[..., str]
):
    alice, bob = make_user("alice"), make_user("bob")
    with user_session(bob, sessions) as session:
        conversation = create_conversation(session, bob)
        message = add_message(session, bob, conversation.id, role="user", content="my secret")
    with user_session(alice, sessions) as session:
        assert get_conversation(session, alice, conversation.id) is None
        assert list_conversations(session, alice).items == []
        assert list_messages(session, alice, conversation.id) is None
        assert touch_conversation(session, alice, conversation.id) is None
        assert add_message(session, alice, conversation.id, role="user", content="hi") is None
        assert update_message(session, alice, message.id, content="pwned") is None
        assert delete_message(session, alice, message.id) is False
        assert delete_conversation(session, alice, conversation.id) is False
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, content FROM messages WHERE conversation_id = :id"),
            {"id": conversation.id},
        ).all()
    assert [tuple(row) for row in rows] == [(bob, "my secret")]


def test_conversation_lifecycle_and_message_pages(
    sessions: sessionmaker[Session], make_user: Callable[..., str]
):
    user = make_user()
    with user_session(user, sessions) as session:
        older = create_conversation(session, user)
    with user_session(user, sessions) as session:
        newer = create_conversation(session, user)
    with user_session(user, sessions) as session:
        assert [c.id for c in list_conversations(session, user).items] == [newer.id, older.id]
    with user_session(user, sessions) as session:
        for n in range(5):
            role = "user" if n % 2 == 0 else "assistant"
            assert add_message(session, user, older.id, role=role, content=f"m{n}") is not None
    with user_session(user, sessions) as session:
        # Adding a message moved the older conversation to the top.
        assert [c.id for c in list_conversations(session, user).items] == [older.id, newer.id]
        first = list_messages(session, user, older.id, limit=3)
        second = list_messages(session, user, older.id, limit=3, cursor=first.next_cursor)
    assert [m.content for m in first.items] == ["m0", "m1", "m2"]
    assert [m.content for m in second.items] == ["m3", "m4"]
    assert second.next_cursor is None
    with user_session(user, sessions) as session:
        edited = update_message(session, user, first.items[0].id, content="edited")
        assert edited is not None and edited.content == "edited"
        assert delete_message(session, user, first.items[1].id) is True
        assert len(list_messages(session, user, older.id).items) == 4
        assert delete_conversation(session, user, older.id) is True
        assert list_messages(session, user, older.id) is None
    with user_session(user, sessions) as session, pytest.raises(ValueError, match="role"):
        add_message(session, user, newer.id, role="system", content="x")


def test_conversation_pages(sessions: sessionmaker[Session], make_user: Callable[..., str]):
    user = make_user()
    made = []
    for _ in range(5):
        with user_session(user, sessions) as session:
            made.append(create_conversation(session, user).id)
    with user_session(user, sessions) as session:
        first = list_conversations(session, user, limit=2)
        second = list_conversations(session, user, limit=2, cursor=first.next_cursor)
        third = list_conversations(session, user, limit=2, cursor=second.next_cursor)
    ids = [c.id for page in (first, second, third) for c in page.items]
    assert ids == list(reversed(made))
    assert third.next_cursor is None
