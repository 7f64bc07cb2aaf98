"""Deterministic COPY text lines of users, tasks, conversations and messages per seed."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from core.datagen_vocabulary import (
    ASSISTANT_REPLIES,
    DESCRIPTIONS,
    DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PRIORITY_WEIGHTS,
    RECURRENCE_WEIGHTS,
    TAGS,
    TITLES,
    USER_PROMPTS,
)

DAY = 86_400
SPAN_DAYS = 365


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
