"""Login throttling: too many failures for one username or one address lock it for a while.

The rule: LOGIN_MAX_FAILURES failed logins per username and per client address within
LOGIN_LOCKOUT_SECONDS lock that username or address for LOGIN_LOCKOUT_SECONDS from the failure
that reached the limit. While locked, the password is not checked at all.

It holds under concurrency because an attempt takes its place in the count *before* its password
is checked, with one atomic upsert per key (row locks serialise parallel attempts): of 40
parallel guesses with a limit of 5, five are checked and 35 are refused. A refused attempt
changes nothing, so it neither counts nor extends a lockout. Times are the database's, shared
by every web process. (django-axes was considered: it checks the lockout before the password
and records the failure after, so parallel guesses all pass its check.)
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction

TABLE = "accounts_loginthrottle"

# One attempt on one key: start a new window when the last one ended (or its lockout expired),
# otherwise count one more. RETURNING gives the row after the change.
RESERVE_SQL = f"""
INSERT INTO {TABLE} AS t (key, failures, window_start, locked_until)
VALUES (%(key)s, 1, statement_timestamp(), NULL)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE
        WHEN t.locked_until > statement_timestamp() THEN t.failures
        WHEN t.locked_until IS NOT NULL
            OR t.window_start <= statement_timestamp() - %(window)s THEN 1
        ELSE t.failures + 1
    END,
    window_start = CASE
        WHEN t.locked_until > statement_timestamp() THEN t.window_start
        WHEN t.locked_until IS NOT NULL
            OR t.window_start <= statement_timestamp() - %(window)s THEN statement_timestamp()
        ELSE t.window_start
    END,
    locked_until = CASE
        WHEN t.locked_until > statement_timestamp() THEN t.locked_until
    END
RETURNING failures, locked_until IS NOT NULL AS locked
"""

# A checked attempt failed: every key that reached the limit is locked from now on (the first
# failure to get there sets the time; later ones in flight do not extend it).
LOCK_SQL = f"""
UPDATE {TABLE}
SET locked_until = COALESCE(locked_until, statement_timestamp() + %(window)s)
WHERE key = ANY(%(keys)s)
  AND failures >= %(limit)s
"""

FORGET_STALE_SQL = f"""
DELETE FROM {TABLE}
WHERE window_start < statement_timestamp() - %(window)s
  AND (locked_until IS NULL OR locked_until < statement_timestamp())
"""


def _user_key(username: str) -> str:
    """Return the key of the operator `username` logs in as, however it is spelled.

    The login form strips the username and normalizes it to NFKC before looking it up, so
    "quinn" typed in full-width letters, and " quinn ", are quinn: the key is taken from the
    same form (then case-folded), or each spelling would be a fresh count of guesses at
    quinn's password. Hashed, so that what operators type never sits in the table.
    """
    same_operator = unicodedata.normalize("NFKC", username.strip()).strip().casefold()
    return "user:" + hashlib.sha256(same_operator.encode()).hexdigest()[:32]


def _address_key(address: str) -> str:
    return f"addr:{address}"


def throttle_keys(username: str, address: str) -> list[str]:
    """Return the keys an attempt counts against, in the order their rows are locked."""
    return sorted([_user_key(username), _address_key(address)])


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


class _Refused(Exception):
    pass


def attempt_allowed(username: str, address: str) -> bool:
    """Count an attempt against the username and the address; False: refuse it unchecked."""
    limit, window = settings.LOGIN_MAX_FAILURES, _window()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for key in throttle_keys(username, address):
                # psycopg adapts a timedelta to an interval; django-stubs' parameter type omits it.
                cursor.execute(RESERVE_SQL, {"key": key, "window": window})  # type: ignore[dict-item]
                failures, locked = cursor.fetchone()
                if locked or failures > limit:
                    raise _Refused  # rolls the counts back: a refused attempt changes nothing
    except _Refused:
        return False
    return True


def record_failure(username: str, address: str) -> None:
    """The attempt's password was wrong: lock the keys that reached the limit."""
    params = {
        "keys": throttle_keys(username, address),
        "limit": settings.LOGIN_MAX_FAILURES,
        "window": _window(),
    }
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, params)
        cursor.execute(FORGET_STALE_SQL, params)


def record_success(username: str, address: str) -> None:
    """The attempt succeeded: forget the username's failures; it was no failure of the address."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE key = %s", [_user_key(username)])
        cursor.execute(
            f"UPDATE {TABLE} SET failures = GREATEST(failures - 1, 0) "
            "WHERE key = %s AND locked_until IS NULL",
            [_address_key(address)],
        )
