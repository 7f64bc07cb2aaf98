"""The reason gate: before one end-user's data is shown, the operator says why.

The reason (a ticket reference or a sentence) is kept in the operator's session for that
end-user only, so paging and refreshing do not ask again; every view and export still writes
its own audit event carrying it. With SUPPORT_REASON_REQUIRED=false the gate lets operators
through without a reason (the events then have an empty reason).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest

SESSION_KEY = "support_reasons"


def reason_required() -> bool:
    return bool(getattr(settings, "SUPPORT_REASON_REQUIRED", True))


def _slot(users_table: str, subject: str) -> str:
    return f"{users_table}\x1f{subject}"


def remembered_reason(request: HttpRequest, users_table: str, subject: str) -> str | None:
    """Return the reason given in this session for this end-user, or None."""
    entry = request.session.get(SESSION_KEY, {}).get(_slot(users_table, subject))
    return entry["reason"] if entry else None


def reason_in_effect(request: HttpRequest, users_table: str, subject: str) -> str | None:
    """Return the reason to record for viewing this end-user, or None if the gate must ask."""
    remembered = remembered_reason(request, users_table, subject)
    if remembered is not None:
        return remembered
    return None if reason_required() else ""


def remember_reason(request: HttpRequest, users_table: str, subject: str, reason: str) -> None:
    """Keep `reason` for this end-user for the rest of the operator's session."""
    reasons = dict(request.session.get(SESSION_KEY, {}))
    reasons[_slot(users_table, subject)] = {
        "reason": reason.strip(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    request.session[SESSION_KEY] = reasons


def forget_reason(request: HttpRequest, users_table: str, subject: str) -> None:
    """Drop the reason for this end-user: the next view asks again."""
    reasons = dict(request.session.get(SESSION_KEY, {}))
    if reasons.pop(_slot(users_table, subject), None) is not None:
        request.session[SESSION_KEY] = reasons


def remembered_subjects(request: HttpRequest, users_table: str) -> list[dict[str, str]]:
    """Return the end-users of this session that already have a reason, newest first."""
    found = []
    for slot, entry in request.session.get(SESSION_KEY, {}).items():
        table, _, subject = slot.partition("\x1f")
        if table == users_table:
            found.append({"subject": subject, "reason": entry["reason"], "at": entry["at"]})
    return sorted(found, key=lambda item: item["at"], reverse=True)
