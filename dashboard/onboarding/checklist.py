"""One line of the setup checklist, and the checklist as text for the terminal."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, BAD = "ok", "warn", "bad"
MARKS = {OK: "✓", WARN: "!", BAD: "✗"}


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    title: str
    status: str  # ok, warn or bad
    found: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return MARKS[self.status]


def checklist_text(checks: list[Check]) -> str:
    """Return the checklist as plain text lines, a fix under each line that needs one."""
    width = max((len(check.title) for check in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"  {check.mark} {check.title.ljust(width)}  {check.found}")
        if check.fix and check.status != OK:
            lines.append(f"    {' ' * width}  fix: {check.fix}")
    return "\n".join(lines)
