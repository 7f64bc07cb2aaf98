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
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

import psycopg
from psycopg import sql

from core.config import ConfigError, direct_url, libpq_dsn, parse_database_url, redact_url
from core.engine import safe_error_text

DAY = 86_400
SPAN_DAYS = 365
CHUNK_ROWS = 5_000
# From this many rows on (and when the load is at least half the size the table already has),
# a table's secondary indexes and foreign keys are dropped for the load and rebuilt after it, in
# the same transaction: one sorted index build and one join to check the keys are many times
# faster than maintaining them row by row.
BULK_ROWS = 100_000


@dataclass(frozen=True)
class Counts:
    """How many rows to generate per table."""

    users: int
    tasks: int
    conversations: int
    messages: int


PRESETS: dict[str, Counts] = {
    "demo": Counts(users=50, tasks=3_000, conversations=150, messages=1_500),
    "bench": Counts(users=1_000_000, tasks=10_000_000, conversations=500_000, messages=5_000_000),
}


@dataclass(frozen=True)
class HeavyUser:
    """One chosen user with a big footprint, for benchmarks of one user's pages."""

    user_id: str
    tasks: int = 10_000
    conversations: int = 200
    messages_per_conversation: int = 50


@dataclass
class Report:
    """What a run wrote: rows per table, and how long it took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        """Return the rows written per second over the whole run."""
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0


# -- vocabulary (plain words only: nothing to escape in COPY's text format) -------------------
FIRST_NAMES = (  # noqa: SIM905  (one word list reads better than 50 lines)
    "Ada Alan Amara Ana Arjun Ava Ben Carla Chen Chloe Dara Diego Elena Emeka Eva Farah Felix "
    "Grace Hana Hugo Ines Isaac Jade Jonas Kai Kenji Lara Leo Lina Luca Maya Mei Mohamed Nadia "
    "Nina Noah Olga Omar Priya Rafael Rosa Sam Sara Sofia Tariq Tom Uma Vera Yusuf Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905  (one word list reads better than 50 lines)
    "Adams Ahmed Alvarez Baker Becker Chen Costa Dubois Evans Fischer Garcia Gupta Hansen "
    "Ivanova Jensen Kim Kowalski Lee Lopez Martin Meyer Moreau Nakamura Novak Okafor Olsen "
    "Patel Perez Rossi Santos Schmidt Silva Singh Smith Tanaka Taylor Walker Wang Weber Wilson "
    "Yilmaz Young Zhang"
).split()
DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
TITLES = (
    "Buy groceries",
    "Call the dentist",
    "Finish the quarterly report",
    "Review pull request",
    "Write blog post draft",
    "Fix the leaking tap",
    "Plan the team offsite",
    "Book flights",
    "Clean the garage",
    "Pay the electricity bill",
    "Prepare 1:1 notes",
    "Update the roadmap",
    "Read chapter 4",
    "File the tax return",
    "Renew passport",
    "Cancel gym membership",
    "Order a birthday gift",
    "Organize photos",
    "Send the invoice",
    "Renew car insurance",
    "Return library books",
    "Collect the package",
    "Sign the vendor contract",
    "Write release notes",
    "Update onboarding checklist",
    "Check the budget spreadsheet",
    "Make a dinner reservation",
    "Book vet appointment",
    "Review design mockups",
    "Test the database migration",
    "Rotate API keys",
    "Send interview feedback",
    "Rehearse conference talk",
    "Back up the laptop",
    "Water the plants",
    "Walk the dog",
    "Call mom",
    "Schedule car service",
    "Reply to the landlord",
    "Pick a paint colour",
    "Draft the project proposal",
    "Clean up the inbox",
    "Book a haircut",
    "Buy running shoes",
    "Submit expense report",
    "Plan weekend trip",
    "Fix the bike tyre",
    "Update resume",
    "Prepare slides for Monday",
    "Research new laptop",
    "Cancel unused subscriptions",
    "Refill prescription",
    "Defrost the freezer",
    "Pay the credit card",
    "Print boarding pass",
)
DESCRIPTIONS = (
    "Before the end of the week.",
    "Ask for the updated numbers first.",
    "See the thread from last Tuesday for context.",
    "Needs a second pair of eyes before it goes out.",
    "Low effort, just do it.",
    "Blocked until we hear back from the vendor.",
    "Split into smaller steps if it takes more than an hour.",
    "Remember to attach the receipt.",
    "Coordinate with the rest of the team on the shared calendar.",
    "Check the previous version for anything that was missed.",
)
TAGS = ("work", "home", "errand", "urgent", "health", "finance", "family", "reading", "later")
PRIORITY_WEIGHTS = (("low", 30), ("medium", 50), ("high", 20))
RECURRENCE_WEIGHTS = ((None, 88), ("daily", 3), ("weekly", 6), ("monthly", 3))
USER_PROMPTS = (
    "Can you help me plan my week?",
    "What should I focus on today?",
    "Add a task to call the dentist tomorrow.",
    "Summarize what I finished yesterday.",
    "Move my errands to Saturday.",
    "Which of my tasks are overdue?",
    "Remind me to renew my passport next month.",
    "Group my work tasks by priority.",
    "Mark the grocery task as done.",
    "What is on my list for the weekend?",
)
ASSISTANT_REPLIES = (
    "Sure. You have three high priority tasks: start with the quarterly report.",
    "Done. I added the task and set it for tomorrow morning.",
    "You finished four tasks yesterday, including the invoice and the library books.",
    "Here is a plan:\\n1. Morning: deep work\\n2. Afternoon: meetings\\n3. Evening: errands",
    "Two tasks are overdue: the electricity bill and the vet appointment.",
    "I moved your errands to Saturday and kept the urgent ones where they were.",
    "Your weekend list has the garage, the birthday gift and the dinner reservation.",
    "Marked as done. Nice work!",
    "I grouped them: 2 high, 5 medium and 3 low priority tasks.",
    "Reminder set for the first Monday of next month.",
)


def _signup(fraction: float) -> float:
    """Return when (fraction of the year) the user at `fraction` of all users signed up."""
    # Sign-ups accelerate: the share of users signed up by time t is t squared.
    return math.sqrt(fraction)


def _activity(fraction: float) -> float:
    """Return when the row at `fraction` of all rows was created: activity grows with users."""
    # Activity per signed-up user is steady, so rows by time t grow as t cubed.
    return fraction ** (1 / 3)


def _weighted_table(pairs: Sequence[tuple[object, int]]) -> list[object]:
    return [value for value, weight in pairs for _ in range(weight)]


class _Clock:
    """Fast text timestamps (whole seconds, UTC) for COPY: 'YYYY-MM-DD HH:MM:SS+00'.

    `days[d] + hms[s]` is the text of `base + d * DAY + s`: two list lookups per timestamp,
    which matters at ten million rows.
    """

    def __init__(self, base: int, days: int) -> None:
        self.base = base - base % DAY
        first = date(1970, 1, 1) + timedelta(days=self.base // DAY)
        self.days = [(first + timedelta(days=d)).isoformat() + " " for d in range(days)]
        self.hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]

    def text(self, epoch: int) -> str:
        """Return the COPY text of the epoch second `epoch`."""
        day, second = divmod(epoch - self.base, DAY)
        if 0 <= day < len(self.days):
            return self.days[day] + self.hms[second]
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")


class Progress:
    """Rows written per table, with rows/s, on stderr: redrawn in place on a terminal, a line
    every LOG_EVERY seconds otherwise (a log file, `make demo` output)."""

    LOG_EVERY = 10.0

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self._table, self._total, self._done = "", 0, 0
        self._started = self._drawn = 0.0

    def start(self, table: str, total: int) -> None:
        self._table, self._total, self._done = table, total, 0
        self._started = self._drawn = time.perf_counter()

    def advance(self, rows: int) -> None:
        self._done += rows
        now = time.perf_counter()
        if self.live and now - self._drawn >= 0.5:
            self._drawn = now
            self._draw("\r", now)
        elif self.enabled and not self.live and now - self._drawn >= self.LOG_EVERY:
            self._drawn = now
            self._draw("", now)
            self.stream.write("\n")

    def finish(self) -> float:
        """Return the seconds this table took, after printing its final line."""
        now = time.perf_counter()
        if self.enabled:
            self._draw("\r" if self.live else "", now)
            self.stream.write("\n")
            self.stream.flush()
        return now - self._started

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _draw(self, prefix: str, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        percent = 100 * self._done / self._total if self._total else 100.0
        self.stream.write(
            f"{prefix}  {self._table:<14} {self._done:>12,} / {self._total:<12,} "
            f"{percent:5.1f}%  {self._done / elapsed:>11,.0f} rows/s  {elapsed:7.1f}s"
        )
        self.stream.flush()


@dataclass
class _Users:
    """Generated users to attach rows to: ids in sign-up order, and when each signed up."""

    ids: list[str]
    signup: list[int]  # epoch seconds, ascending


# A row goes to the signed-up user at position m * random() ** USER_SKEW (of m signed up):
# a long tail of light users and a few heavy ones (the earliest), as in real products.
USER_SKEW = 2.0


class Generator:
    """Deterministic rows for one seed and anchor; each table has its own random stream."""

    def __init__(self, seed: int, anchor: date) -> None:
        self.seed = seed
        self.end = int(datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC).timestamp())
        self.start = self.end - SPAN_DAYS * DAY
        self.clock = _Clock(self.start, SPAN_DAYS + 400)
        self._task_details = self._details(self.rng("task-details"))

    @staticmethod
    def _details(rnd: random.Random, size: int = 4096) -> list[str]:
        """Return `size` COPY texts of (description, priority, tags, recurrence), drawn with
        realistic frequencies; each task takes one, which keeps the hot loop short."""
        priorities = _weighted_table(PRIORITY_WEIGHTS)
        recurrences = _weighted_table(RECURRENCE_WEIGHTS)
        details = []
        for _ in range(size):
            description = rnd.choice(DESCRIPTIONS) if rnd.random() < 0.5 else "\\N"
            r = rnd.random()
            tags = rnd.sample(TAGS, 0 if r < 0.4 else 1 if r < 0.8 else rnd.randint(2, 3))
            recurrence = rnd.choice(recurrences) or "\\N"
            details.append(
                f"{description}\t{rnd.choice(priorities)}\t{{{','.join(tags)}}}\t{recurrence}"
            )
        return details

    def rng(self, stream: str) -> random.Random:
        """Return the random stream `stream` of this seed (independent of the other tables)."""
        digest = hashlib.blake2b(f"{self.seed}:{stream}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def user_id(self, index: int) -> str:
        """Return the auth-provider-like id of generated user number `index`."""
        digest = hashlib.blake2b(f"{self.seed}:user:{index}".encode(), digest_size=12)
        return "user_" + digest.hexdigest()

    # -- users -----------------------------------------------------------------------------
    def users(self, count: int, first_index: int) -> tuple[_Users, Iterator[str]]:
        """Return the users to refer to, and their COPY lines (id, email, name, created_at)."""
        rnd = self.rng(f"users:{first_index}")
        ids = [self.user_id(first_index + i) for i in range(count)]
        span = self.end - self.start
        signup = [self.start + int(span * _signup(i / max(count, 1))) for i in range(count)]
        users = _Users(ids=ids, signup=signup)

        def lines() -> Iterator[str]:
            clock = self.clock.text
            for i in range(count):
                first = FIRST_NAMES[int(rnd.random() * len(FIRST_NAMES))]
                last = LAST_NAMES[int(rnd.random() * len(LAST_NAMES))]
                domain = DOMAINS[int(rnd.random() * len(DOMAINS))]
                email = f"{first.lower()}.{last.lower()}.{first_index + i}@{domain}"
                yield f"{ids[i]}\t{email}\t{first} {last}\t{clock(signup[i])}\n"

        return users, lines()

    # -- tasks -----------------------------------------------------------------------------
    def tasks(self, users: _Users, count: int, stream: str = "tasks") -> Iterator[str]:
        """Yield COPY lines of tasks, created in time order over the year, by signed-up users.

        Columns as in COLUMNS["tasks"]. This loop is the generator's hot spot: locals only.
        """
        rnd = self.rng(stream)
        random_ = rnd.random
        titles, details = TITLES, self._task_details
        n_titles, n_details = len(titles), len(details)
        ids, signup = users.ids, users.signup
        n_users, signed_up = len(ids), 0
        days, hms, base = self.clock.days, self.clock.hms, self.clock.base
        start, end, span = self.start, self.end, self.end - self.start
        last_offset, inv_span, inv_count = self.end - base, 1 / span, 1 / max(count, 1)
        for i in range(count):
            created = start + int(span * ((i + random_()) * inv_count) ** (1 / 3))
            while signed_up < n_users and signup[signed_up] <= created:
                signed_up += 1
            user = ids[int((signed_up or 1) * random_() ** USER_SKEW)]
            offset = created - base
            day, second = offset // DAY, offset % DAY
            r = random_()
            due = days[day + 1 + int(r * 50)] + hms[second] if r < 0.6 else "\\N"
            # Older tasks are more often done.
            done = "t" if random_() < 0.15 + 0.7 * (end - created) * inv_span else "f"
            updated = min(offset + int(random_() * 10 * DAY), last_offset)
            yield (
                f"{user}\t{titles[int(random_() * n_titles)]}\t{done}\t{due}\t"
                f"{days[day]}{hms[second]}\t{days[updated // DAY]}{hms[updated % DAY]}\t"
                f"{details[int(random_() * n_details)]}\n"
            )

    # -- conversations and messages --------------------------------------------------------
    def conversations(
        self, users: _Users, count: int, messages: int, first_id: int, stream: str = "chat"
    ) -> tuple[Iterator[str], Iterator[str]]:
        """Return COPY lines of conversations (explicit ids from first_id) and their messages.

        The second iterator must be consumed after the first one.
        """
        rnd = self.rng(stream)
        span, start = self.end - self.start, self.start
        base, extra = divmod(messages, count) if count else (0, 0)
        per_conversation = [base + (1 if i < extra else 0) for i in range(count)]
        # Pairs of conversations trade messages so the total stays exact but sizes vary.
        for i in range(0, count - 1, 2):
            shift = int(rnd.random() * per_conversation[i + 1])
            per_conversation[i] += shift
            per_conversation[i + 1] -= shift
        # Gaps between messages come from one shared table, so a conversation's last message
        # time is known (for updated_at) before its messages are written.
        gaps = [
            int(5 + rnd.random() * 40) if j % 2 else int(30 + rnd.random() * 1200)
            for j in range(4096)
        ]
        gaps += gaps
        prefix = [0]
        for gap in gaps:
            prefix.append(prefix[-1] + gap)
        owners: list[str] = []
        starts: list[int] = []
        offsets: list[int] = []

        def conversation_lines() -> Iterator[str]:
            clock = self.clock.text
            ids, signup = users.ids, users.signup
            signed_up = 0
            for i in range(count):
                created = start + int(span * _activity((i + rnd.random()) / count))
                while signed_up < len(ids) and signup[signed_up] <= created:
                    signed_up += 1
                owner = ids[int((signed_up or 1) * rnd.random() ** USER_SKEW)]
                offset = int(rnd.random() * 2048) * 2  # even: the user speaks first
                last = min(per_conversation[i], 4096) - 1
                owners.append(owner)
                starts.append(created)
                offsets.append(offset)
                updated = created + prefix[offset + last] - prefix[offset] if last > 0 else created
                yield f"{first_id + i}\t{owner}\t{clock(created)}\t{clock(updated)}\n"

        def message_lines() -> Iterator[str]:
            clock = self.clock.text
            random_ = rnd.random
            n_prompts, n_replies = len(USER_PROMPTS), len(ASSISTANT_REPLIES)
            for i in range(count):
                owner, created, offset = owners[i], starts[i], offsets[i]
                conversation_id = first_id + i
                for j in range(per_conversation[i]):
                    at = created + prefix[offset + min(j, 4095)] - prefix[offset]
                    if j % 2 == 0:
                        role, content = "user", USER_PROMPTS[int(random_() * n_prompts)]
                    else:
                        role, content = "assistant", ASSISTANT_REPLIES[int(random_() * n_replies)]
                    yield f"{owner}\t{conversation_id}\t{role}\t{content}\t{clock(at)}\n"

        return conversation_lines(), message_lines()


# -- writing ---------------------------------------------------------------------------------
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
