"""The schema enforces what the models say: lengths, checks, defaults, cascades, tz-aware times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, select

from core.models import NAMING_CONVENTION, Conversation, Message, SQLModel, Task


def _insert_task(engine: Engine, user_id: str, **values: object) -> int:
    columns = {"user_id": user_id, "title": "t", **values}
    names = ", ".join(columns)
    params = ", ".join(f":{name}" for name in columns)
    with engine.begin() as conn:
        return conn.execute(
            text(f"INSERT INTO tasks ({names}) VALUES ({params}) RETURNING id"), columns
        ).scalar_one()


def test_title_longer_than_200_is_rejected(owner_engine: Engine, make_user: Callable[..., str]):
    user = make_user()
    _insert_task(owner_engine, user, title="x" * 200)
    with pytest.raises(DataError) as error:
        _insert_task(owner_engine, user, title="x" * 201)
    assert error.value.orig.sqlstate == "22001"  # string_data_right_truncation


def test_description_longer_than_1000_is_rejected(
    owner_engine: Engine, make_user: Callable[..., str]
):
    with pytest.raises(DataError):
        _insert_task(owner_engine, make_user(), description="x" * 1001)


@pytest.mark.parametrize("priority", ["urgent", "LOW", ""])
def test_bad_priority_is_rejected_by_the_named_check(
    owner_engine: Engine, make_user: Callable[..., str], priority: str
):
    with pytest.raises(IntegrityError) as error:
        _insert_task(owner_engine, make_user(), priority=priority)
    assert error.value.orig.sqlstate == "23514"
    assert error.value.orig.diag.constraint_name == "ck_tasks_priority"


def test_bad_message_role_is_rejected(owner_engine: Engine, make_user: Callable[..., str]):
    user = make_user()
    with Session(owner_engine) as session:
        conversation = Conversation(user_id=user)
        session.add(conversation)
        session.commit()
        session.add(
            Message(user_id=user, conversation_id=conversation.id, role="system", content="x")
        )
        with pytest.raises(IntegrityError) as error:
            session.commit()
    assert error.value.orig.diag.constraint_name == "ck_messages_role"


def test_server_defaults(owner_engine: Engine, make_user: Callable[..., str]):
    task_id = _insert_task(owner_engine, make_user())
    with owner_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT completed, priority, tags, created_at, updated_at FROM tasks WHERE id = :id"
            ),
            {"id": task_id},
        ).one()
    assert row.completed is False
    assert row.priority == "medium"
    assert row.tags == []
    assert row.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - row.created_at).total_seconds()) < 60


def test_orm_round_trip_with_array_and_timezones(
    owner_engine: Engine, make_user: Callable[..., str]
):
    user = make_user()
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with Session(owner_engine) as session:
        task = Task(user_id=user, title="Pay rent", tags=["home", "finance"], due_date=due)
        session.add(task)
        session.commit()
        task_id = task.id
    with Session(owner_engine) as session:
        loaded = session.exec(select(Task).where(Task.id == task_id)).one()
    assert loaded.tags == ["home", "finance"]
    assert loaded.due_date == due
    assert loaded.created_at is not None and loaded.created_at.tzinfo is not None


def test_every_timestamp_is_timestamptz(owner_engine: Engine):
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' "
                "AND table_name = ANY(:tables) "
                "AND (column_name LIKE '%\\_at' OR column_name = 'due_date')"
            ),
            # Only the application's tables: other tests create their own tables in public.
            {"tables": ["users", "tasks", "conversations", "messages"]},
        ).all()
    assert len(rows) == 7
    assert {row.data_type for row in rows} == {"timestamp with time zone"}


def test_email_is_unique(owner_engine: Engine, make_user: Callable[..., str]):
    user = make_user()
    with pytest.raises(IntegrityError) as error, owner_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (id, email) VALUES (:id, :email)"),
            {"id": user + "_twin", "email": f"{user}@example.test"},
        )
    assert error.value.orig.diag.constraint_name == "ix_users_email"


def test_deleting_a_user_cascades_to_all_their_rows(
    owner_engine: Engine, make_user: Callable[..., str]
):
    doomed, survivor = make_user("doomed"), make_user("survivor")
    with Session(owner_engine) as session:
        for user in (doomed, survivor):
            session.add(Task(user_id=user, title="a task"))
            conversation = Conversation(user_id=user)
            session.add(conversation)
            session.flush()
            session.add(
                Message(user_id=user, conversation_id=conversation.id, role="user", content="hi")
            )
        session.commit()
    with owner_engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": doomed})
    counts = "SELECT (SELECT count(*) FROM {t} WHERE user_id = :id)"
    with owner_engine.connect() as conn:
        for table in ("tasks", "conversations", "messages"):
            assert conn.execute(text(counts.format(t=table)), {"id": doomed}).scalar() == 0
            assert conn.execute(text(counts.format(t=table)), {"id": survivor}).scalar() == 1


def test_deleting_a_conversation_cascades_to_its_messages(
    owner_engine: Engine, make_user: Callable[..., str]
):
    user = make_user()
    with Session(owner_engine) as session:
        conversation = Conversation(user_id=user)
        session.add(conversation)
        session.flush()
        session.add(
            Message(user_id=user, conversation_id=conversation.id, role="user", content="x")
        )
        session.commit()
        session.delete(conversation)
        session.commit()
    with owner_engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM messages WHERE user_id = :id"), {"id": user})
        assert left.scalar() == 0


def test_every_constraint_and_index_name_is_explicit():
    names = []
    for table in SQLModel.metadata.sorted_tables:
        names += [constraint.name for constraint in table.constraints]
        names += [index.name for index in table.indexes]
    assert all(names), names
    prefixes = {f"{key}_" for key in NAMING_CONVENTION}
    assert all(name[:3] in prefixes for name in names), names
    assert "ix_tasks_user_id_completed" in names
    assert "ix_messages_conversation_id_created_at" in names
    assert "fk_tasks_user_id_users" in names
