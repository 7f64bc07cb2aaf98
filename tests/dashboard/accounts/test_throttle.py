"""Login throttling holds: a locked account answers the same whatever the password and never
checks it; parallel guesses cannot outrun the limit; the lockout lasts what the setting says."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.db.models import F
from django.test import Client

from dashboard.accounts.models import LoginThrottle

RIGHT = "a long pass phrase 7"
BACKEND = "tests.dashboard.accounts.test_throttle.CountingBackend"
# Masked CSRF tokens (64 letters and digits, a fresh mask per response): in the form and in
# the page's htmx headers.
CSRF_TOKEN = re.compile(rb"\b[A-Za-z0-9]{64}\b")


class CountingBackend(ModelBackend):
    """Django's backend, counting the passwords it checks (and optionally holding them)."""

    calls = 0
    hold: threading.Event | None = None
    progress = threading.Condition()

    def authenticate(self, request, username=None, password=None, **kwargs):
        with CountingBackend.progress:
            CountingBackend.calls += 1
            CountingBackend.progress.notify_all()
        if CountingBackend.hold is not None:
            CountingBackend.hold.wait(timeout=30)
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.fixture
def counting(settings):
    settings.AUTHENTICATION_BACKENDS = [BACKEND]
    CountingBackend.calls, CountingBackend.hold = 0, None
    yield CountingBackend
    CountingBackend.hold = None


def login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def age_by(seconds: int) -> None:
    """Move every stored time of the throttle `seconds` into the past."""
    delta = timedelta(seconds=seconds)
    LoginThrottle.objects.update(
        window_start=F("window_start") - delta, locked_until=F("locked_until") - delta
    )


@pytest.mark.django_db
def test_a_locked_account_answers_the_same_whatever_the_password(
    operator_factory, settings, counting
):
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("omar", "viewer", password=RIGHT)
    for _ in range(3):
        assert login(Client(), "omar", "wrong").status_code == 200
    checked = counting.calls
    right, wrong = login(Client(), "omar", RIGHT), login(Client(), "omar", "also wrong")
    assert right.status_code == wrong.status_code == 429
    assert CSRF_TOKEN.sub(b"", right.content) == CSRF_TOKEN.sub(b"", wrong.content)
    assert len(CSRF_TOKEN.findall(right.content)) == 2
    assert b"Too many failed attempts" in right.content
    assert counting.calls == checked, "a password was checked while the account was locked"


@pytest.mark.django_db
def test_the_address_is_throttled_across_usernames(operator_factory, settings):
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("pia", "viewer", password=RIGHT)
    for name in ("anna", "bert", "carl"):
        login(Client(), name, "guess", address="198.51.100.9")
    assert login(Client(), "pia", RIGHT, address="198.51.100.9").status_code == 429
    assert login(Client(), "pia", RIGHT, address="198.51.100.10").status_code == 302


@pytest.mark.django_db
def test_the_username_is_throttled_across_addresses(operator_factory, settings):
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("quinn", "viewer", password=RIGHT)
    for n in range(3):
        login(Client(), "Quinn", "guess", address=f"198.51.100.{20 + n}")
    assert login(Client(), "quinn", RIGHT, address="198.51.100.30").status_code == 429


@pytest.mark.django_db
def test_every_spelling_that_logs_in_as_a_username_counts_against_it(
    operator_factory, settings, counting
):
    """The login form normalizes what is typed (NFKC, surrounding spaces) before looking the
    operator up, so "quinn" in full-width or mathematical letters, or " quinn ", log in as
    quinn: each is a guess at quinn's password, not a username with a count of its own."""
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("quinn", "viewer", password=RIGHT)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in "quinn")  # FULLWIDTH LATIN ...
    spellings = [full_width, "\U0001d5cauinn", " quinn\u00a0", full_width.upper()]
    assert login(Client(), spellings[0], RIGHT).status_code == 302  # it is quinn
    for n, spelling in enumerate(spellings[1:]):
        login(Client(), spelling, "guess", address=f"198.51.100.{40 + n}")
    checked = counting.calls
    for n, spelling in enumerate(["quinn", *spellings]):
        response = login(Client(), spelling, RIGHT, address=f"198.51.100.{50 + n}")
        assert response.status_code == 429, spelling
    assert counting.calls == checked


@pytest.mark.django_db
def test_the_lockout_lasts_the_setting_and_refusals_do_not_extend_it(operator_factory, settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 60
    operator_factory("rita", "viewer", password=RIGHT)
    for _ in range(3):
        login(Client(), "rita", "wrong")
    locked = dict(LoginThrottle.objects.values_list("key", "locked_until"))
    assert all(locked.values())
    for _ in range(5):  # refused while locked: the lockout must not move
        assert login(Client(), "rita", "wrong").status_code == 429
    assert dict(LoginThrottle.objects.values_list("key", "locked_until")) == locked
    age_by(59)
    assert login(Client(), "rita", RIGHT).status_code == 429
    age_by(2)
    assert login(Client(), "rita", RIGHT).status_code == 302


@pytest.mark.django_db
def test_failures_older_than_the_window_are_forgotten(operator_factory, settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 60
    operator_factory("sven", "viewer", password=RIGHT)
    for _ in range(2):
        login(Client(), "sven", "wrong")
    age_by(61)
    for _ in range(2):
        assert login(Client(), "sven", "wrong").status_code == 200
    assert login(Client(), "sven", RIGHT).status_code == 302


PARALLEL = 40


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_cannot_outrun_the_limit(operator_factory, settings, counting):
    settings.LOGIN_MAX_FAILURES = 5
    operator_factory("tess", "viewer", password=RIGHT)
    # Each checked password is held until every request has either been refused or is being
    # checked: a throttle that counts only after checking would let all 40 through.
    counting.hold = threading.Event()
    start = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def guess(n: int) -> None:
        try:
            start.wait(timeout=30)
            status = login(Client(), "tess", f"guess {n}").status_code
            with counting.progress:
                statuses.append(status)
                counting.progress.notify_all()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    with counting.progress:
        settled = counting.progress.wait_for(
            lambda: counting.calls + len(statuses) >= PARALLEL, timeout=60
        )
    counting.hold.set()
    for thread in threads:
        thread.join(timeout=60)
    assert settled
    assert counting.calls == 5
    assert sorted(statuses) == [200] * 5 + [429] * (PARALLEL - 5)
    counting.hold = None
    assert login(Client(), "tess", RIGHT).status_code == 429
    assert counting.calls == 5
