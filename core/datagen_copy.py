"""COPY of generated lines in chunks, index and foreign key drop/rebuild, reserved ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from core.datagen_progress import Progress

CHUNK_ROWS = 5_000

COLUMNS = {
    "users": "users (id, email, name, created_at)",
    "tasks": (
        "tasks (user_id, title, completed, due_date, created_at, updated_at, "
        "description, priority, tags, recurrence)"
    ),
    "conversations": "conversations (id, user_id, created_at, updated_at)",
    "messages": "messages (user_id, conversation_id, role, content, created_at)",
}


@contextmanager
def deferred_keys_and_indexes(
    conn: psycopg.Connection, table: str, enabled: bool, progress: Progress
) -> Iterator[None]:
    """Drop `table`'s foreign keys and non-constraint indexes for the block, then rebuild them.

    Their exact definitions are read from the catalog first, so they come back identical.
    """
    if not enabled:
        yield
        return
    foreign_keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        (table,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index AS x "
        "JOIN pg_class AS c ON c.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = x.indexrelid) "
        "ORDER BY c.relname",
        (table,),
    ).fetchall()
    for name, _definition in foreign_keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    for name, _definition in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    started = time.perf_counter()
    conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        conn.execute(definition)
    for name, definition in foreign_keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(table), sql.Identifier(name)
            )
            + sql.SQL(definition)
        )
    progress.note(
        f"  {table:<14} rebuilt {len(indexes)} indexes and {len(foreign_keys)} foreign keys "
        f"in {time.perf_counter() - started:.1f}s"
    )


def _write_chunks(copy: psycopg.Copy, lines: Iterator[str], progress: Progress) -> int:
    """Return the number of lines written to `copy`, sent in chunks of CHUNK_ROWS."""
    written = 0
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_ROWS:
            copy.write("".join(chunk).encode())
            written += len(chunk)
            progress.advance(len(chunk))
            chunk.clear()
    if chunk:
        copy.write("".join(chunk).encode())
        written += len(chunk)
        progress.advance(len(chunk))
    return written


def reserve_ids(conn: psycopg.Connection, table: str, count: int) -> int:
    """Return the first of `count` ids reserved in `table` (its identity moves past them)."""
    conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # no concurrent writer takes them
    row = conn.execute(
        f"SELECT pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) FROM {table}"
    ).fetchone()
    assert row is not None
    sequence, max_id = row
    last = conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
    assert last is not None
    used = max(max_id, last[0] if last[1] else last[0] - 1)
    if count:
        conn.execute("SELECT setval(%s, %s)", (sequence, used + count))
    return used + 1
