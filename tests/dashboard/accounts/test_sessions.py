"""Sessions are stored under a hash of their key: reading the session table (a Neon branch of
the database copies it, and its revealed role reads every table) gives no usable session."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from dashboard.accounts.sessions import SessionStore, stored_key

pytestmark = pytest.mark.django_db


def test_a_session_read_from_the_table_opens_nothing(operator_factory):
    operator_factory("ada", "admin", password="a long pass phrase 9")
    browser = Client()
    assert (
        browser.post("/login/", {"username": "ada", "password": "a long pass phrase 9"})["Location"]
        == "/"
    )
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert browser.get("/setup-checks/").status_code == 200  # the admin's own browser
    stolen = list(Session.objects.values_list("session_key", flat=True))
    assert stolen == [stored_key(key)] and key not in stolen
    for value in stolen:
        thief = Client()
        thief.cookies[settings.SESSION_COOKIE_NAME] = value
        response = thief.get("/setup-checks/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_store_keeps_reads_deletes_and_cycles_sessions():
    store = SessionStore()
    store["reason"] = "SUP-1"
    store.save()
    key = store.session_key
    assert SessionStore(key).load() == {"reason": "SUP-1"} and SessionStore(key).exists(key)
    store.cycle_key()
    assert store.session_key != key and not SessionStore(key).exists(key)
    assert SessionStore(store.session_key)["reason"] == "SUP-1"
    store.delete()
    assert Session.objects.count() == 0
