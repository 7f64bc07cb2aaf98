"""One line of the setup checklist, and the checklist as text for the terminal."""

from __future__ import annotations

import textwrap
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


def checklist_text(checks: list[Check], columns: int = 100) -> str:
    """Return the checklist as plain text, wrapped to `columns`, a fix under each problem."""
    width = max((len(check.title) for check in checks), default=0)
    indent = " " * (width + 6)
    lines = []
    for check in checks:
        head = f"  {check.mark} {check.title.ljust(width)}  "
        lines.extend(
            textwrap.wrap(check.found, columns, initial_indent=head, subsequent_indent=indent)
            or [head.rstrip()]
        )
        if check.fix and check.status != OK:
            lines.extend(
                textwrap.wrap(
                    f"fix: {check.fix}",
                    columns,
                    initial_indent=indent,
                    subsequent_indent=indent + "     ",
                    break_on_hyphens=False,
                )
            )
    return "\n".join(lines)
