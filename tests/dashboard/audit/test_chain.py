"""The hash chain: every value survives the trip through the database with the same hash, the
key matters, and concurrent writers extend one chain instead of forking it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connections
from django.test import RequestFactory

from dashboard.audit.chain import GENESIS, canonical_content, event_hash
from dashboard.audit.models import AuditEvent
from dashboard.audit.services import record
from dashboard.audit.verification import walk_chain

AWKWARD_DETAILS = [
    {"big float": 1e16, "tiny": 1e-7, "tenth": 0.1, "two": 2.0, "minus zero": -0.0},
    {"huge": 1e308, "int": 10**30, "negative": -17, "bool": True, "none": None},
    {"unicode": "Zoë “quoted” \u2028 tab\t", "nested": {"b": [1, 2.5, {"z": "a"}], "a": []}},
    {1: "int key", "tuple": (1, 2)},
]
ADDRESSES = ["198.51.100.7", "2001:db8::1", "::ffff:192.0.2.1", "0:0:0:0:0:0:0:1", None]


@pytest.mark.django_db
@pytest.mark.parametrize("detail", AWKWARD_DETAILS)
@pytest.mark.parametrize("address", ADDRESSES)
def test_values_read_back_from_the_database_give_the_same_hash(detail, address):
    event = AuditEvent.objects.create(
        operator_name="sue", action="user.view", client_address=address, detail=detail
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert event_hash(stored.prev_hash, stored.chain_values()) == stored.hash == event.hash


def test_the_hash_covers_every_field_and_the_previous_hash(settings):
    values = {
        "at": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "operator_id": 7,
        "operator_name": "sue",
        "action": "user.view",
        "subject_user": "acc_1",
        "tables": ["users"],
        "reason": "SUP-1",
        "client_address": "198.51.100.7",
        "detail": {"rows": [1]},
    }
    original = event_hash(GENESIS, values)
    for name, other in [
        ("operator_id", 8),
        ("operator_name", "sam"),
        ("action", "user.export"),
        ("subject_user", "acc_2"),
        ("tables", ["tasks"]),
        ("reason", "SUP-2"),
        ("client_address", "198.51.100.8"),
        ("detail", {"rows": [2]}),
    ]:
        assert event_hash(GENESIS, {**values, name: other}) != original, name
    assert event_hash("1" * 64, values) != original
    settings.AUDIT_CHAIN_KEY = "another key"
    assert event_hash(GENESIS, values) != original


def test_canonical_content_is_unambiguous():
    base = {
        "at": datetime(2025, 1, 1, tzinfo=UTC),
        "operator_id": None,
        "operator_name": "a",
        "action": "b",
        "subject_user": "",
        "tables": [],
        "reason": "",
        "client_address": None,
        "detail": {},
    }
    # Moving text from one field to the next must change the content.
    assert canonical_content({**base, "operator_name": "ab", "action": ""}) != canonical_content(
        {**base, "operator_name": "a", "action": "b"}
    )


WRITERS, EACH = 6, 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_extend_one_chain(support_user):
    factory = RequestFactory()
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            request = factory.get("/")
            request.user = support_user
            start.wait(timeout=30)
            for n in range(EACH):
                record(request, "test.concurrent", detail={"writer": writer, "n": n})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    walk = walk_chain()
    assert walk.broken is None
    assert walk.events == WRITERS * EACH
    links = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(links)) == len(links), "two events follow the same one: the chain forked"


@pytest.mark.django_db
def test_an_append_costs_two_statements(support_user):
    """The lock and the last hash travel together (two statements, one round trip), then the
    insert: every look at end-users' data writes one event, so this is on every such page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    request = RequestFactory().get("/")
    request.user = support_user
    record(request, "test.first", detail={})
    with CaptureQueriesContext(connection) as captured:
        event = record(request, "test.second", detail={"n": 1})
    sent = [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))  # the test's own
    ]
    assert len(sent) == 2, sent
    assert "pg_advisory_xact_lock" in sent[0] and "ORDER BY id DESC LIMIT 1" in sent[0]
    assert sent[1].startswith("INSERT")
    previous = AuditEvent.objects.get(action="test.first")
    assert event.prev_hash == previous.hash  # the hash read after the lock is the last one


@pytest.mark.django_db
def test_events_with_odd_values_and_a_refused_one_leave_the_chain_whole(support_user):
    """The hand-written INSERT converts each field as the ORM would: a time in another zone, an
    IPv4-mapped address, text beyond the BMP, a JSON string holding a backslash-u escape, and
    an operator id all read back with the hash they were written with; an event PostgreSQL
    refuses (a NUL in its JSON or its text) is not written and the next one still follows."""
    from datetime import timedelta, timezone

    from django.db import DataError

    first = AuditEvent.objects.create(
        operator=support_user,
        operator_name="zoë\u2028",
        action="user.view",
        at=datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        tables=["tâble", "ü"],
        reason="\U0001f600 SUP-1",
        client_address="::ffff:192.0.2.1",
        detail={"s": "\U0001f600\\u0000", "n": [10**40, -1e-300], "e": {}, "z": None},
    )
    for refused in ({"detail": {"s": "a\x00b"}}, {"reason": "a\x00b"}):
        with pytest.raises(DataError):
            AuditEvent.objects.create(operator_name="sue", action="user.view", **refused)
    last = AuditEvent.objects.create(operator_name="sue", action="user.view", client_address="")
    assert last.prev_hash == first.hash
    walk = walk_chain()
    assert walk.broken is None and walk.events == AuditEvent.objects.count() == 2
    stored = AuditEvent.objects.get(pk=first.pk)
    assert stored.operator_id == support_user.pk and stored.tables == ["tâble", "ü"]
    assert stored.detail["s"] == "\U0001f600\\u0000" and stored.client_address == "::ffff:192.0.2.1"
