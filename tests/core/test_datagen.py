"""The data generator: deterministic per seed, exact counts, consistent rows, idempotent demo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import psycopg
import pytest
from alembic import command

from core import datagen
from core.datagen import Counts, HeavyUser, Progress, generate
from tests.core.conftest import alembic_config

SMALL = Counts(users=20, tasks=400, conversations=12, messages=90)
ANCHOR = date(2025, 6, 30)
TABLES = ("users", "tasks", "conversations", "messages")


def _dump(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES
        }


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES
        }


def _run(url: str, counts: Counts = SMALL, **kwargs) -> datagen.Report:
    kwargs.setdefault("anchor", ANCHOR)
    with psycopg.connect(url) as conn:
        return generate(conn, counts, **kwargs)


def test_same_seed_same_data_other_seed_other_data(migrated_database: Callable[[], str]):
    first, second, other = migrated_database(), migrated_database(), migrated_database()
    heavy = HeavyUser("user_heavy", tasks=300, conversations=3, messages_per_conversation=6)
    _run(first, seed=7, heavy=heavy)
    _run(second, seed=7, heavy=heavy)
    _run(other, seed=8, heavy=heavy)
    assert _dump(first) == _dump(second)
    assert _dump(first)["tasks"] != _dump(other)["tasks"]
    assert _dump(first)["users"] != _dump(other)["users"]


def test_counts_and_consistency(migrated_database: Callable[[], str]):
    url = migrated_database()
    heavy = HeavyUser("user_heavy", tasks=250, conversations=4, messages_per_conversation=5)
    report = _run(url, seed=1, heavy=heavy)
    assert _counts(url) == {"users": 21, "tasks": 650, "conversations": 16, "messages": 110}
    assert report.rows == {"users": 20, "tasks": 650, "conversations": 16, "messages": 110}
    with psycopg.connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        assert one("SELECT count(*) FROM tasks WHERE user_id = 'user_heavy'") == 250
        assert one("SELECT count(*) FROM messages WHERE user_id = 'user_heavy'") == 20
        # A message belongs to its conversation's user; users speak first.
        assert (
            one(
                "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.user_id <> c.user_id"
            )
            == 0
        )
        assert (
            one(
                "SELECT count(*) FROM (SELECT DISTINCT ON (conversation_id) role FROM messages "
                "ORDER BY conversation_id, created_at, id) AS firsts WHERE role <> 'user'"
            )
            == 0
        )
        # A conversation was last updated at its last message.
        assert (
            one(
                "SELECT count(*) FROM conversations c JOIN (SELECT conversation_id, "
                "max(created_at) AS last FROM messages GROUP BY 1) m ON m.conversation_id = c.id "
                "WHERE c.updated_at <> m.last"
            )
            == 0
        )
        # Nobody acts before signing up; nothing is updated before it is created.
        assert (
            one(
                "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.user_id "
                "WHERE t.created_at < u.created_at OR t.updated_at < t.created_at"
            )
            == 0
        )
        assert one("SELECT count(DISTINCT priority) FROM tasks") == 3
        assert one("SELECT count(*) FROM tasks WHERE cardinality(tags) > 0") > 0
        assert one("SELECT max(created_at)::date FROM tasks") <= ANCHOR
        # ANALYZE ran: the planner knows the sizes.
        assert one("SELECT reltuples FROM pg_class WHERE relname = 'tasks'") == 650
        # The identity continues after the explicit conversation ids.
        conn.execute("INSERT INTO conversations (user_id) VALUES ('user_heavy')")
        assert one("SELECT max(id) FROM conversations") == 17


def test_demo_is_idempotent_append_adds_and_reset_restarts(
    migrated_database: Callable[[], str],
):
    url = migrated_database()
    _run(url, seed=3)
    first = _dump(url)
    skipped = _run(url, seed=3)
    assert skipped.skipped == ["dataset"] and not any(skipped.rows.values())
    assert _dump(url) == first
    _run(url, seed=3, append=True)  # same seed: new users, no collision
    assert _counts(url) == {
        "users": 40,
        "tasks": 800,
        "conversations": 24,
        "messages": 180,
    }
    _run(url, seed=3, reset=True)
    assert _dump(url) == first


def test_bulk_path_rebuilds_indexes_and_keys_identically(
    migrated_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
):
    small, bulk = migrated_database(), migrated_database()
    _run(small, seed=5)
    monkeypatch.setattr(datagen, "BULK_ROWS", 10)
    _run(bulk, seed=5)
    assert _dump(small) == _dump(bulk)
    command.check(alembic_config(bulk))  # every index and foreign key came back as it was
    with psycopg.connect(bulk) as conn:
        fks = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()
    assert fks == (4,)


def test_command_line_demo_with_progress(
    migrated_database: Callable[[], str], capsys: pytest.CaptureFixture[str]
):
    url = migrated_database()
    assert datagen.main(["--preset", "demo", "--url", url, "--anchor", "2025-01-31"]) == 0
    assert _counts(url) == {"users": 50, "tasks": 3000, "conversations": 150, "messages": 1500}
    err = capsys.readouterr().err
    assert "rows/s" in err and "tasks" in err
    password = url.split("@")[0].rsplit(":", 1)[1]
    assert password not in err
    assert datagen.main(["--preset", "demo", "--url", url, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert _counts(url)["users"] == 50


def test_progress_prints_rows_per_second(capsys: pytest.CaptureFixture[str]):
    progress = Progress()
    progress.start("tasks", 10)
    progress.advance(10)
    progress.finish()
    assert "10 / 10" in capsys.readouterr().err


def test_progress_logs_lines_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(Progress, "LOG_EVERY", 0.0)
    progress = Progress()
    progress.start("messages", 30)
    for _ in range(3):
        progress.advance(10)
    progress.finish()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4
    assert all("rows/s" in line and "\r" not in line for line in lines)


def test_unreachable_database_is_a_sentence_without_the_password(
    capsys: pytest.CaptureFixture[str],
):
    assert datagen.main(["--url", "postgresql://u:hunter2@127.0.0.1:1/x", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err
    assert "hunter2" not in err
