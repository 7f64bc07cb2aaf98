"""Where a request comes from, as the audit trail and the login throttle record it.

Behind a TLS proxy (BEHIND_TLS_PROXY) the client's address is in X-Forwarded-For. The client
may send that header itself, and the proxy appends the address it saw: only the last entry is
the proxy's word. Taking the first let an operator write any address into their audit events
and give every login guess an address of its own.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from dashboard.audit.services import client_address

PROXY = ("HTTP_X_FORWARDED_PROTO", "https")


def test_without_a_proxy_the_header_is_ignored(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    request = RequestFactory().get(
        "/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.66"
    )
    assert client_address(request) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.20", "198.51.100.20"),  # the proxy set the header
        ("203.0.113.66, 198.51.100.20", "198.51.100.20"),  # the client wrote the first
        ("203.0.113.66,198.51.100.20 ", "198.51.100.20"),
        ("203.0.113.66, not-an-address", ""),
        ("", "10.0.0.2"),  # no header: the proxy's own address
    ],
)
def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(settings, forwarded, expected):
    settings.SECURE_PROXY_SSL_HEADER = PROXY
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


@pytest.mark.django_db
def test_a_forged_forwarded_address_does_not_escape_the_address_lockout(settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY
    settings.LOGIN_MAX_FAILURES = 3
    for n in range(6):
        response = Client().post(
            "/login/",
            {"username": f"nobody-{n}", "password": "guess"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.20",
        )
        assert response.status_code == (200 if n < 3 else 429), n
