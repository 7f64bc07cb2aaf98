"""Local branch names and the JSON note stored in `COMMENT ON DATABASE` of each branch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.branch_roles import BRANCH_MARKER, BRANCH_NAME_PATTERN, MAX_IDENTIFIER_BYTES
from dashboard.branches.provider import BranchError

# The same pattern the branch roles' functions check in the database (core/branch_roles.py).
NAME_PATTERN = re.compile(BRANCH_NAME_PATTERN)
COMMENT_KIND = "schemadesk-branch"


def branch_database_name(target_db: str, name: str) -> str:
    """Return the database name of branch `name`, or raise BranchError if the name is bad."""
    if not NAME_PATTERN.fullmatch(name or ""):  # not match: its "$" takes a trailing newline
        raise BranchError(
            f"{name!r} is not a valid branch name: use 1 to 40 lowercase letters, digits "
            "and dashes, starting and ending with a letter or digit."
        )
    dbname = f"{target_db}{BRANCH_MARKER}{name}"
    if len(dbname.encode()) > MAX_IDENTIFIER_BYTES:
        room = MAX_IDENTIFIER_BYTES - len(f"{target_db}{BRANCH_MARKER}".encode())
        raise BranchError(
            f"The branch name {name!r} is too long here: at most {max(room, 0)} characters fit "
            "after the database name."
        )
    return dbname


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BranchNote:
    """What is stored in `COMMENT ON DATABASE` of a branch."""

    name: str
    parent: str
    state: str
    created_at: datetime
    expires_at: datetime | None = None
    schema_only: bool = False
    error: str = ""

    def to_comment(self) -> str:
        return json.dumps(
            {
                "kind": COMMENT_KIND,
                "name": self.name,
                "parent": self.parent,
                "state": self.state,
                "created_at": _iso(self.created_at),
                "expires_at": _iso(self.expires_at),
                "schema_only": self.schema_only,
                "error": self.error,
            },
            sort_keys=True,
        )

    @classmethod
    def from_comment(cls, comment: str | None, fallback_name: str) -> BranchNote | None:
        """Return the note, or None if the comment is not one of ours."""
        try:
            data = json.loads(comment or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != COMMENT_KIND:
            return None
        return cls(
            name=str(data.get("name") or fallback_name),
            parent=str(data.get("parent") or ""),
            state=str(data.get("state") or ""),
            created_at=_parse_time(data.get("created_at")) or datetime.now(UTC),
            expires_at=_parse_time(data.get("expires_at")),
            schema_only=bool(data.get("schema_only")),
            error=str(data.get("error") or ""),
        )


def _with_state(note: BranchNote, state: str, error: str = "") -> BranchNote:
    return BranchNote(
        name=note.name,
        parent=note.parent,
        state=state,
        created_at=note.created_at,
        expires_at=note.expires_at,
        schema_only=note.schema_only,
        error=error,
    )
