"""The reason gate: before end-users' data is shown, the operator says why.

A reason is given for a purpose, not per click: browsing end-users' data in general (the Data
browser's user-owned tables, the user search), or one end-user (their page, their export, the
Data browser scoped to them). It is kept in the operator's session for that purpose only, for
SUPPORT_REASON_TTL_SECONDS from the moment it was given (like sudo; using it does not extend
it); then the next view asks again. Every view still writes its own audit event carrying the
reason (dashboard/users/access.py). With SUPPORT_REASON_REQUIRED=false the gate lets operators
through without a reason (the events then have an empty reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_htmx.http import HttpResponseClientRedirect

SESSION_KEY = "support_reasons"
BROWSING_SLOT = "browse"


@dataclass(frozen=True)
class Purpose:
    """What a reason is given for: one end-user (`subject`), or browsing (no subject)."""

    users_table: str = ""
    subject: str = ""

    @property
    def slot(self) -> str:
        """Return the session key of this purpose's reason."""
        return f"{self.users_table}\x1f{self.subject}" if self.subject else BROWSING_SLOT

    @property
    def label(self) -> str:
        if self.subject:
            return f"the data of end-user {self.subject}"
        return "browsing end-users' data (user-owned tables in the Data browser, user search)"


BROWSING = Purpose()


def for_user(users_table: str, subject: str) -> Purpose:
    """Return the purpose of looking at one end-user's data."""
    return Purpose(users_table, subject)


def reason_required() -> bool:
    return bool(getattr(settings, "SUPPORT_REASON_REQUIRED", True))


def reason_ttl() -> timedelta:
    """Return how long a reason is kept (SUPPORT_REASON_TTL_SECONDS, at least one second)."""
    return timedelta(seconds=max(1, int(getattr(settings, "SUPPORT_REASON_TTL_SECONDS", 1800))))


def _given_at(entry: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(entry["at"])
    except (KeyError, TypeError, ValueError):
        return None


def _fresh(entry: dict[str, str], now: datetime) -> bool:
    at = _given_at(entry)
    return at is not None and at <= now < at + reason_ttl()


def _entries(request: HttpRequest) -> dict[str, dict[str, str]]:
    return dict(request.session.get(SESSION_KEY, {}))


def remembered_reason(request: HttpRequest, purpose: Purpose) -> str | None:
    """Return the reason given in this session for `purpose` if still fresh, else None.

    An expired reason is dropped from the session."""
    entries = _entries(request)
    entry = entries.get(purpose.slot)
    if entry is None:
        return None
    if _fresh(entry, datetime.now(UTC)):
        return entry["reason"]
    del entries[purpose.slot]
    request.session[SESSION_KEY] = entries
    return None


def reason_in_effect(request: HttpRequest, purpose: Purpose) -> str | None:
    """Return the reason to record for `purpose`, or None if the gate must ask for one."""
    remembered = remembered_reason(request, purpose)
    if remembered is not None:
        return remembered
    return None if reason_required() else ""


def remember_reason(request: HttpRequest, purpose: Purpose, reason: str) -> None:
    """Keep `reason` for `purpose` for SUPPORT_REASON_TTL_SECONDS from now."""
    entries = _entries(request)
    entries[purpose.slot] = {
        "reason": reason.strip(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    request.session[SESSION_KEY] = entries


def forget_reason(request: HttpRequest, purpose: Purpose) -> None:
    """Drop the reason for `purpose`: the next view asks again."""
    entries = _entries(request)
    if entries.pop(purpose.slot, None) is not None:
        request.session[SESSION_KEY] = entries


def latest_reason(request: HttpRequest) -> str:
    """Return the most recent fresh reason of this session, any purpose ('' if none), to
    offer as the starting text of the next reason form."""
    now = datetime.now(UTC)
    fresh = [entry for entry in _entries(request).values() if _fresh(entry, now)]
    newest = max(fresh, key=lambda entry: entry["at"], default=None)
    return newest["reason"] if newest else ""


def remembered_subjects(request: HttpRequest, users_table: str) -> list[dict[str, str]]:
    """Return the end-users of this session whose reason is still fresh, newest first."""
    now = datetime.now(UTC)
    found: list[dict[str, str]] = []
    for slot, entry in _entries(request).items():
        table, _, subject = slot.partition("\x1f")
        given_at = _given_at(entry)
        if table == users_table and subject and given_at and _fresh(entry, now):
            expires = given_at + reason_ttl()
            found.append(
                {
                    "subject": subject,
                    "reason": entry["reason"],
                    "at": entry["at"],
                    "expires": expires.isoformat(timespec="seconds"),
                }
            )
    return sorted(found, key=lambda item: item["at"], reverse=True)


def safe_next(request: HttpRequest, url: str | None) -> str | None:
    """Return `url` if it is a path on this console (where to come back to), else None."""
    if not url or not url.startswith("/") or url.startswith("//"):
        return None
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if allowed else None


def where_from(request: HttpRequest) -> str:
    """Return the page the operator is on: for an htmx request, the page that made it."""
    htmx = getattr(request, "htmx", None)
    if htmx:
        current = safe_next(request, htmx.current_url_abs_path)
        if current:
            return current
    return request.get_full_path()


def reason_form_url(purpose: Purpose, back: str) -> str:
    """Return the reason form for `purpose`, which comes back to `back` once a reason is given."""
    params = [("subject", purpose.subject)] if purpose.subject else []
    params.append(("next", back))
    return f"{reverse('users:reason')}?{urlencode(params)}"


def ask_for_reason(request: HttpRequest, purpose: Purpose, back: str = "") -> HttpResponse:
    """Send the browser to the reason form (the whole page, for htmx), then back to `back`
    (default: the page the operator is on)."""
    url = reason_form_url(purpose, back or where_from(request))
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
