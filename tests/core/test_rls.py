"""Row-level security, connected as the application role todo_app (APP_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.models import USER_TABLES

SET_USER = "SELECT set_config('app.current_user_id', %s, true)"


@pytest.fixture
def two_users(owner_engine: Engine, make_user: Callable[..., str]) -> tuple[str, str]:
    """Alice and Bob, each with a task, a conversation and a message (written as owner)."""
    alice, bob = make_user("alice"), make_user("bob")
    with owner_engine.begin() as conn:
        for user in (alice, bob):
            conn.execute(
                text("INSERT INTO tasks (user_id, title) VALUES (:u, :t)"),
                {"u": user, "t": f"task of {user}"},
            )
            conversation = conn.execute(
                text("INSERT INTO conversations (user_id) VALUES (:u) RETURNING id"), {"u": user}
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO messages (user_id, conversation_id, role, content) "
                    "VALUES (:u, :c, 'user', 'hello')"
                ),
                {"u": user, "c": conversation},
            )
    return alice, bob


@pytest.fixture
def app_conn() -> Iterator[psycopg.Connection]:
    """A plain connection as todo_app; each test runs its own transactions."""
    with psycopg.connect(os.environ["APP_DATABASE_URL"]) as conn:
        yield conn


def _owners(conn: psycopg.Connection, table: str) -> set[str]:
    column = "id" if table == "users" else "user_id"
    return {row[0] for row in conn.execute(f"SELECT DISTINCT {column} FROM {table}")}


def test_app_role_is_subject_to_rls(app_conn: psycopg.Connection):
    row = app_conn.execute(
        "SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False)
    flags = app_conn.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
        (list(USER_TABLES),),
    ).fetchall()
    # Enabled everywhere, not forced: the owner (migrations, the console) still sees all rows.
    assert sorted(flags) == sorted((table, True, False) for table in USER_TABLES)


def test_with_the_setting_only_that_users_rows_are_visible(
    app_conn: psycopg.Connection, two_users: tuple[str, str]
):
    alice, bob = two_users
    with app_conn.transaction():
        app_conn.execute(SET_USER, (alice,))
        for table in USER_TABLES:
            assert _owners(app_conn, table) == {alice}, table
        hidden = app_conn.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (bob,))
        assert hidden.fetchone() == (0,)


def test_with_the_setting_another_users_rows_cannot_be_changed(
    app_conn: psycopg.Connection, owner_engine: Engine, two_users: tuple[str, str]
):
    alice, bob = two_users
    with app_conn.transaction():
        app_conn.execute(SET_USER, (alice,))
        for table in ("tasks", "conversations", "messages"):
            cur = app_conn.execute(f"DELETE FROM {table} WHERE user_id = %s", (bob,))
            assert cur.rowcount == 0, table
        cur = app_conn.execute("UPDATE tasks SET title = 'pwned' WHERE user_id = %s", (bob,))
        assert cur.rowcount == 0
        cur = app_conn.execute("UPDATE users SET name = 'pwned' WHERE id = %s", (bob,))
        assert cur.rowcount == 0
        # Moving one's own row to another user is refused by WITH CHECK.
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            app_conn.execute("UPDATE tasks SET user_id = %s WHERE user_id = %s", (bob, alice))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            app_conn.execute("INSERT INTO tasks (user_id, title) VALUES (%s, 'planted')", (bob,))
    with owner_engine.connect() as conn:
        titles = conn.execute(
            text("SELECT title FROM tasks WHERE user_id = :u"), {"u": bob}
        ).scalars()
        assert list(titles) == [f"task of {bob}"]
        names = conn.execute(text("SELECT name FROM users WHERE id = :u"), {"u": bob}).scalars()
        assert list(names) == ["Bob"]


def test_a_message_cannot_be_put_into_another_users_conversation(
    app_conn: psycopg.Connection, owner_engine: Engine, two_users: tuple[str, str]
):
    alice, bob = two_users
    with owner_engine.connect() as conn:
        bobs_conversation = conn.execute(
            text("SELECT id FROM conversations WHERE user_id = :u"), {"u": bob}
        ).scalar_one()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        app_conn.execute(SET_USER, (alice,))
        app_conn.execute(
            "INSERT INTO messages (user_id, conversation_id, role, content) "
            "VALUES (%s, %s, 'user', 'sneaky')",
            (alice, bobs_conversation),
        )


def test_without_the_setting_nothing_is_visible(
    app_conn: psycopg.Connection, two_users: tuple[str, str]
):
    alice, _bob = two_users
    with app_conn.transaction():
        for table in USER_TABLES:
            assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        assert app_conn.execute("DELETE FROM tasks").rowcount == 0
    # A setting made for one transaction is gone in the next one on the same connection
    # (it reads back as '' then, which matches no user either).
    with app_conn.transaction():
        app_conn.execute(SET_USER, (alice,))
        assert app_conn.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
    with app_conn.transaction():
        leftover = app_conn.execute("SELECT current_setting('app.current_user_id', true)")
        assert leftover.fetchone() == ("",)
        assert app_conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)


def test_the_owner_sees_every_row(owner_engine: Engine, two_users: tuple[str, str]):
    with owner_engine.connect() as conn:
        owners = conn.execute(
            text("SELECT DISTINCT user_id FROM tasks WHERE user_id = ANY(:ids)"),
            {"ids": list(two_users)},
        ).scalars()
        assert set(owners) == set(two_users)


def test_policies_use_the_index(app_conn: psycopg.Connection, two_users: tuple[str, str]):
    alice, _bob = two_users
    with app_conn.transaction():
        app_conn.execute("SET LOCAL enable_seqscan = off")
        app_conn.execute(SET_USER, (alice,))
        plan = "\n".join(row[0] for row in app_conn.execute("EXPLAIN SELECT * FROM tasks"))
    assert "ix_tasks_user_id" in plan
