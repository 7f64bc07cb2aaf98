"""How many rows to generate (presets, the heavy user) and what a run wrote."""

from __future__ import annotations

from dataclasses import dataclass, field


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
