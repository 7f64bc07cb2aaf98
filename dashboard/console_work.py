"""Which sessions and statements are the console's own, so the pages can hide them by default.

Every connection the console opens names itself with `application_name = schemadesk` (Django's
own database, the target gateway, the worker, branch and trial-run maintenance, pg_dump). That
tells sessions apart in `pg_stat_activity`. `pg_stat_statements` records no application name,
so statements are told apart by role only: the console's role (the user of DATABASE_URL), the
read-only role EXPLAIN ANALYZE runs as (TARGET_READONLY_DATABASE_URL or TARGET_READONLY_ROLE),
and any role listed in CONSOLE_ROLES. The target's
role is the application's as well (it owns or reads its tables), so it counts as the console's
only when CONSOLE_ROLES names it.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

APPLICATION_NAME = "schemadesk"


def _url_user(url: str) -> str:
    try:
        return unquote(urlsplit(url).username or "")
    except ValueError:
        return ""


def console_roles() -> tuple[str, ...]:
    """Return the database roles whose statements and sessions are the console's own."""
    from django.conf import settings

    from dashboard.target import read_only_setup, target_url

    named = [str(role).strip() for role in getattr(settings, "CONSOLE_ROLES", []) if role]
    roles = {str(settings.DATABASES["default"].get("USER") or "")}
    read_only = read_only_setup()  # EXPLAIN ANALYZE's role: a login, or SET ROLE
    if read_only is not None:
        roles.add(read_only.role)
    # The target's role runs the application's migrations too: only CONSOLE_ROLES may claim it.
    roles.discard(_url_user(target_url()))
    roles.update(named)
    roles.discard("")
    return tuple(sorted(roles))


def is_console_session(application: str, username: str, roles: tuple[str, ...]) -> bool:
    """Return True when a session (from pg_stat_activity) is one the console opened."""
    return application == APPLICATION_NAME or username in roles
