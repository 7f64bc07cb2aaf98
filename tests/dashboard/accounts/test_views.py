"""Login: works, fails politely, and locks out after repeated failures."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_login_then_logout(operator_factory):
    operator_factory("nina", "viewer", password="a long pass phrase 7")
    client = Client()
    response = _login(client, "nina", "a long pass phrase 7")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_account_even_with_the_right_password(
    operator_factory, settings
):
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("omar", "viewer", password="a long pass phrase 7")
    client = Client()
    for _ in range(3):
        assert _login(client, "omar", "wrong").status_code == 200
    response = _login(client, "omar", "a long pass phrase 7")
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert client.get("/").status_code == 302  # still not logged in


def test_successful_login_clears_the_usernames_earlier_failures(operator_factory, settings):
    # The username's count restarts; each address keeps its own failures (a success of one
    # account must not let an address go on guessing others').
    settings.LOGIN_MAX_FAILURES = 3
    operator_factory("pia", "viewer", password="a long pass phrase 7")
    client = Client()
    for _ in range(2):
        _login(client, "pia", "wrong", address="198.51.100.1")
    assert _login(client, "pia", "a long pass phrase 7", address="198.51.100.1").status_code == 302
    client.post("/logout/")
    for _ in range(2):
        _login(client, "pia", "wrong", address="198.51.100.2")
    assert _login(client, "pia", "a long pass phrase 7", address="198.51.100.2").status_code == 302


def test_login_page_has_csrf_protection():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
