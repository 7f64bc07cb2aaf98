"""Where row changes are offered: links to edit, delete and add rows in an end-user's scope."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse
from django.utils.http import urlencode

from dashboard.accounts.roles import has_role
from dashboard.write_settings import writes_problem

CHANGE_ROLE = "admin"


def may_change_rows(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Return True when this operator may change rows on this console (role and settings)."""
    return has_role(user, CHANGE_ROLE) and not writes_problem()


def row_change_urls(subject: str, table: str, key: Iterable[tuple[str, object]]) -> dict[str, str]:
    """Return the edit and delete pages of one row of `subject` (`?pk.<col>=<value>`)."""
    query = urlencode([(f"pk.{name}", str(value)) for name, value in key])
    return {
        "edit_url": f"{reverse('users:row_edit', args=[subject, table])}?{query}",
        "delete_url": f"{reverse('users:row_delete', args=[subject, table])}?{query}",
    }


def add_row_url(subject: str, table: str) -> str:
    return reverse("users:row_add", args=[subject, table])
