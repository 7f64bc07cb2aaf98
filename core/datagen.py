"""Deterministic demo and benchmark data for users, tasks, conversations and messages.

Rows are generated from a seed and an anchor day (same seed and anchor give the same rows) and
written with COPY, as the table owner over the direct URL (row-level security does not apply to
the owner). Run `python -m core.datagen --help`.

    python -m core.datagen --preset demo                 # 50 users; does nothing if any exist
    python -m core.datagen --preset bench                # 1M users, 10M tasks, 5M messages
    python -m core.datagen --preset demo --heavy-user user_heavy   # + one user with 10,000 tasks
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import psycopg

from core.config import ConfigError, direct_url, libpq_dsn, parse_database_url, redact_url
from core.datagen_copy import (
    COLUMNS,
    _write_chunks,
    deferred_keys_and_indexes,
    reserve_ids,
)
from core.datagen_presets import PRESETS, Counts, HeavyUser, Report
from core.datagen_progress import Progress
from core.datagen_rows import Generator, _Users
from core.engine import safe_error_text

__all__ = [  # re-exported from the core.datagen_* modules, beside what is defined here
    "BULK_ROWS",
    "COLUMNS",
    "PRESETS",
    "Counts",
    "Generator",
    "HeavyUser",
    "Progress",
    "Report",
    "Writer",
    "deferred_keys_and_indexes",
    "generate",
    "main",
    "reserve_ids",
    "write_dataset",
    "write_heavy_user",
]

# From this many rows on (and when the load is at least half the size the table already has),
# a table's secondary indexes and foreign keys are dropped for the load and rebuilt after it, in
# the same transaction: one sorted index build and one join to check the keys are many times
# faster than maintaining them row by row.
BULK_ROWS = 100_000


@dataclass
class Writer:
    """COPYs generated lines into the tables of one connection, counting rows in a report."""

    conn: psycopg.Connection
    progress: Progress
    report: Report
    freeze: bool = False  # COPY ... FREEZE: only right after TRUNCATE in the same transaction

    def copy(self, table: str, lines: Iterator[str], total: int, label: str = "") -> int:
        """Return the number of rows written to `table` by COPY from the text `lines`."""
        statement = f"COPY {COLUMNS[table]} FROM STDIN"
        if self.freeze:
            statement += " WITH (FREEZE)"
        with (
            deferred_keys_and_indexes(self.conn, table, self._bulk(table, total), self.progress),
            self.conn.cursor() as cur,
        ):
            self.progress.start(label or table, total)
            with cur.copy(statement) as copy:
                written = _write_chunks(copy, lines, self.progress)
            self.progress.finish()
        self.report.rows[table] = self.report.rows.get(table, 0) + written
        return written

    def _bulk(self, table: str, total: int) -> bool:
        """Return True when rebuilding `table`'s indexes after the load beats maintaining them."""
        if total < BULK_ROWS:
            return False
        row = self.conn.execute(
            "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()
        return total >= (row[0] if row else 0) / 2


def _user_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def write_dataset(writer: Writer, generator: Generator, counts: Counts, first_index: int) -> None:
    """Write users, then tasks, conversations and messages referring to them."""
    users, user_lines = generator.users(counts.users, first_index)
    writer.copy("users", user_lines, counts.users)
    if not counts.users:
        return
    stream = f":{first_index}" if first_index else ""
    writer.copy("tasks", generator.tasks(users, counts.tasks, "tasks" + stream), counts.tasks)
    first_id = reserve_ids(writer.conn, "conversations", counts.conversations)
    conversations, messages = generator.conversations(
        users, counts.conversations, counts.messages, first_id, "chat" + stream
    )
    writer.copy("conversations", conversations, counts.conversations)
    writer.copy("messages", messages, counts.messages)


def write_heavy_user(writer: Writer, generator: Generator, heavy: HeavyUser) -> None:
    """Write one user (created if missing) with many tasks, conversations and messages."""
    email_key = hashlib.blake2b(heavy.user_id.encode(), digest_size=6).hexdigest()
    writer.conn.execute(
        "INSERT INTO users (id, email, name, created_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING",
        (
            heavy.user_id,
            f"heavy.{email_key}@example.com",
            "Heavy User",
            datetime.fromtimestamp(generator.start, UTC),
        ),
    )
    users = _Users(ids=[heavy.user_id], signup=[generator.start])
    stream = f"heavy:{heavy.user_id}"
    tasks = generator.tasks(users, heavy.tasks, stream + ":tasks")
    writer.copy("tasks", tasks, heavy.tasks, "heavy tasks")
    messages = heavy.conversations * heavy.messages_per_conversation
    first_id = reserve_ids(writer.conn, "conversations", heavy.conversations)
    conversation_lines, message_lines = generator.conversations(
        users, heavy.conversations, messages, first_id, stream + ":chat"
    )
    writer.copy("conversations", conversation_lines, heavy.conversations, "heavy convers.")
    writer.copy("messages", message_lines, messages, "heavy messages")


def generate(
    conn: psycopg.Connection,
    counts: Counts,
    *,
    seed: int = 42,
    anchor: date | None = None,
    append: bool = False,
    reset: bool = False,
    heavy: HeavyUser | None = None,
    progress: Progress | None = None,
) -> Report:
    """Return what was written: the dataset (skipped if users exist, unless append/reset),
    then the heavy user (skipped if it already has tasks, unless append), then ANALYZE."""
    progress = progress or Progress(enabled=False)
    report = Report()
    started = time.perf_counter()
    generator = Generator(seed, anchor or datetime.now(UTC).date())
    writer = Writer(conn, progress, report, freeze=reset)
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        if reset:
            conn.execute("TRUNCATE users, tasks, conversations, messages RESTART IDENTITY CASCADE")
        existing = _user_count(conn)
        if existing and not append:
            report.skipped.append("dataset")
            progress.note(f"  {existing:,} users already exist: dataset skipped (use --append)")
        else:
            write_dataset(writer, generator, counts, existing)
        if heavy is not None:
            has_tasks = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE user_id = %s)", (heavy.user_id,)
            ).fetchone()
            if has_tasks and has_tasks[0] and not append:
                report.skipped.append("heavy user")
                progress.note(f"  {heavy.user_id} already has tasks: heavy user skipped")
            else:
                write_heavy_user(writer, generator, heavy)
    if any(report.rows.values()):
        with conn.transaction():
            conn.execute("ANALYZE users, tasks, conversations, messages")
    report.seconds = time.perf_counter() - started
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.datagen",
        description="Write deterministic demo or benchmark data with COPY (as the table owner).",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    for table in ("users", "tasks", "conversations", "messages"):
        parser.add_argument(f"--{table}", type=int, help=f"number of {table} (overrides preset)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--anchor",
        type=date.fromisoformat,
        help="last day of the generated year, YYYY-MM-DD (default: today, UTC)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--append",
        "--force",
        action="store_true",
        help="write even if users already exist (adds new users and their rows)",
    )
    mode.add_argument(
        "--reset",
        action="store_true",
        help="TRUNCATE users, tasks, conversations, messages first (destroys data)",
    )
    parser.add_argument("--heavy-user", metavar="USER_ID", help="give this user a big footprint")
    parser.add_argument("--heavy-tasks", type=int, default=10_000)
    parser.add_argument("--heavy-conversations", type=int, default=200)
    parser.add_argument("--heavy-messages", type=int, default=50, help="per conversation")
    parser.add_argument("--url", help="database URL (default: APP_DIRECT_URL)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator from the command line; return the exit status."""
    args = _parser().parse_args(argv)
    counts = replace(
        PRESETS[args.preset],
        **{
            table: getattr(args, table)
            for table in ("users", "tasks", "conversations", "messages")
            if getattr(args, table) is not None
        },
    )
    if min(counts.users, counts.tasks, counts.conversations, counts.messages) < 0:
        print("counts must not be negative", file=sys.stderr)
        return 2
    heavy = (
        HeavyUser(args.heavy_user, args.heavy_tasks, args.heavy_conversations, args.heavy_messages)
        if args.heavy_user
        else None
    )
    try:
        url = parse_database_url(args.url, "--url") if args.url else direct_url()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    progress = Progress(enabled=not args.quiet)
    progress.note(f"datagen: {args.preset} (seed {args.seed}) into {redact_url(url)}")
    try:
        conn = psycopg.connect(libpq_dsn(url), application_name="datagen", connect_timeout=10)
    except psycopg.OperationalError as error:
        print(
            f"error: cannot connect to {redact_url(url)}: {safe_error_text(error)}", file=sys.stderr
        )
        return 1
    with conn:
        report = generate(
            conn,
            counts,
            seed=args.seed,
            anchor=args.anchor,
            append=args.append,
            reset=args.reset,
            heavy=heavy,
            progress=progress,
        )
    total = sum(report.rows.values())
    progress.note(
        f"datagen: {total:,} rows in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
