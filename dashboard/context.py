"""Template context: the navigation, limited to the sections that exist and the role allows."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from dashboard.accounts.roles import ROWS_ROLE, has_role, operator_role

# (label, URL name, role needed). Sections whose URL is not installed yet are left out.
SECTIONS = [
    ("Overview", "home", "viewer"),
    ("Schema", "schema:tables", "viewer"),
    ("Data", "data:index", "viewer"),
    ("Users", "users:find", "support"),
    ("Migrations", "history:index", "viewer"),
    ("Branches", "branches:list", "viewer"),
    ("Queries", "queries:statements", "viewer"),
    ("Activity", "queries:activity", "viewer"),
    ("Audit", "audit:events", "support"),
]
# Pages of a section whose URL does not start with the section's own (the Overview is "/").
SECTION_PAGES = {"home": ("/overview/", "/setup-checks/")}


@lru_cache(maxsize=8)
def _section_urls(prefix: str, urlconf: str | None) -> tuple[tuple[str, str, str, str], ...]:
    """Return (label, URL, role, URL name) of the installed sections (reversed once)."""
    found = []
    for label, url_name, role in SECTIONS:
        try:
            found.append((label, reverse(url_name, urlconf=urlconf), role, url_name))
        except NoReverseMatch:
            continue
    return tuple(found)


def navigation(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {"nav": [], "operator_role": None, "can_read_rows": False}
    items: list[dict[str, Any]] = [
        {"label": label, "url": url, "active": False, "pages": SECTION_PAGES.get(url_name, ())}
        for label, url, role, url_name in _section_urls(get_script_prefix(), get_urlconf())
        if has_role(request.user, role)
    ]
    # The section whose URL is the longest prefix of the path is the current one
    # (/queries/activity/ is Activity, not Queries).
    matches = [
        item
        for item in items
        if request.path == item["url"]
        or (item["url"] != "/" and request.path.startswith(item["url"]))
        or request.path.startswith(item["pages"])
    ]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return {
        "nav": items,
        "operator_role": operator_role(request.user),
        "can_read_rows": has_role(request.user, ROWS_ROLE),
    }
