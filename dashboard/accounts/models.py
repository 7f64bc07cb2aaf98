"""Login throttling state: failed attempts per username and per address, and the lockouts."""

from __future__ import annotations

from django.db import models


class LoginThrottle(models.Model):
    """One throttled key: a username (hashed) or a client address.

    `failures` counts the failed attempts of the current window plus those in flight (an
    attempt is counted before its password is checked, so parallel guesses cannot outrun the
    limit). The window starts at the first counted attempt and lasts LOGIN_LOCKOUT_SECONDS;
    reaching LOGIN_MAX_FAILURES locks the key until `locked_until`.
    """

    key = models.CharField(max_length=80, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    locked_until = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["window_start"], name="accounts_throttle_window")]

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
