"""Checks on the values written by the access functions (the database checks them again)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Final

from core.models import DESCRIPTION_MAX, PRIORITIES, RECURRENCES, ROLES, TITLE_MAX


class Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = Unset.UNSET  # "leave this field as it is" in an update


def checked_title(title: str) -> str:
    """Return the title stripped, if it is 1..200 characters, else raise ValueError."""
    title = (title or "").strip()
    if not title:
        raise ValueError("title must not be empty")
    if len(title) > TITLE_MAX:
        raise ValueError(f"title must be at most {TITLE_MAX} characters, got {len(title)}")
    return title


def checked_description(description: str | None) -> str | None:
    """Return the description (None when blank), if at most 1000 characters."""
    if description is None or not description.strip():
        return None
    if len(description) > DESCRIPTION_MAX:
        raise ValueError(
            f"description must be at most {DESCRIPTION_MAX} characters, got {len(description)}"
        )
    return description


def checked_priority(priority: str) -> str:
    """Return the priority if it is one of low, medium, high."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    return priority


def checked_tags(tags: Iterable[str]) -> list[str]:
    """Return the tags stripped and de-duplicated in order, refusing empty ones."""
    if isinstance(tags, str):
        raise ValueError("tags must be a list of strings, not one string")
    result: list[str] = []
    for tag in tags:
        tag = tag.strip() if isinstance(tag, str) else ""
        if not tag:
            raise ValueError("tags must be non-empty strings")
        if tag not in result:
            result.append(tag)
    return result


def checked_due_date(due_date: datetime | None) -> datetime | None:
    """Return the due date if it is timezone-aware (a naive one is ambiguous)."""
    if due_date is not None and due_date.tzinfo is None:
        raise ValueError("due_date must be timezone-aware")
    return due_date


def checked_recurrence(recurrence: str | None) -> str | None:
    """Return the recurrence if it is None or one of daily, weekly, monthly."""
    if recurrence is not None and recurrence not in RECURRENCES:
        raise ValueError(
            f"recurrence must be one of {', '.join(RECURRENCES)} or None, got {recurrence!r}"
        )
    return recurrence


def checked_role(role: str) -> str:
    """Return the message role if it is user or assistant."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def checked_content(content: str) -> str:
    """Return the message content if it is not blank."""
    if not isinstance(content, str) or not content.strip():
        raise ValueError("content must not be empty")
    return content
