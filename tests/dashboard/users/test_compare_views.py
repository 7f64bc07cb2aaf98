"""The compare pages: behind the reason gate, audited, counts first then rows, as-of snapshots,
COMPARE_TIMEOUT_MS on both sides."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.test import Client
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.branches.provider import READY, BranchInfo
from dashboard.branches.snapshots import snapshot_at_or_before
from dashboard.users import gate
from tests.dashboard.tm_world import (
    ALICE,
    ALICE_CONVERSATION,
    ALICE_MESSAGES,
    ALICE_TASKS,
    World,
    owner_url,
    target,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def with_reason(client: Client, subject: str = ALICE) -> Client:
    session = client.session
    session[gate.SESSION_KEY] = {
        f"users\x1f{subject}": {
            "reason": "SUP-77 tasks vanished",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    }
    session.save()
    return client


def page(client: Client, url: str, **extra) -> str:
    response = client.get(url, **extra)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_the_compare_page_needs_the_reason_for_this_user(support_client, tm: World):
    response = support_client.get(f"/users/u/{ALICE}/compare/?branch={tm.branch_id}")
    assert response.status_code == 302
    assert response["Location"].startswith("/users/reason/?subject=tm_alice")
    assert not AuditEvent.objects.exists()


def test_the_chooser_lists_branches_and_says_how_far_back_local_snapshots_go(
    support_client, tm: World
):
    html = page(with_reason(support_client), f"/users/u/{ALICE}/compare/")
    assert f'data-branch="{tm.branch_name}"' in html and ">snapshot</span>" in html
    assert "Local branches copy the database as it is now and cannot go back in time" in html
    assert "1 snapshot kept" in html


def test_counts_first_then_rows_each_view_audited(support_client, tm: World):
    client = with_reason(support_client)
    target("DELETE FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS[:2]),))
    target("DELETE FROM conversations WHERE id = %s", (ALICE_CONVERSATION,))
    url = f"/users/u/{ALICE}/compare/?branch={tm.branch_id}"

    html = page(client, url)
    assert re.search(r'id="rows-tasks-deleted"[^>]*data-count="2"', html)
    assert re.search(r'id="rows-messages-deleted"[^>]*data-count="3"', html)
    assert "Putting rows back is for administrators." in html  # support sees, cannot restore
    summary = AuditEvent.objects.get(action="user.compare")
    assert summary.subject_user == ALICE and summary.reason == "SUP-77 tasks vanished"
    assert summary.detail["counts"]["tasks"]["deleted"] == 2
    assert summary.detail["branch_name"] == tm.branch_name

    part = page(client, url + "&table=tasks&kind=deleted", **HTMX)
    assert part.lstrip().startswith('<div class="diff-kind" id="rows-tasks-deleted"')
    assert "Alice task 1" in part and "Alice task 2" in part and "Alice task 3" not in part
    assert 'name="row"' not in part  # no restore checkboxes for support
    rows = AuditEvent.objects.filter(action="user.compare").order_by("id").last()
    assert rows.detail["rows"]["keys"] == [{"id": str(ALICE_TASKS[0])}, {"id": str(ALICE_TASKS[1])}]
    assert rows.tables == ["tasks"]

    whole = page(client, url + "&table=tasks&kind=deleted")  # the same part as a page
    assert "<html" in whole and "Alice task 1" in whole


def test_bad_requests_get_a_sentence(support_client, tm: World):
    client = with_reason(support_client)
    base = f"/users/u/{ALICE}/compare/?branch={tm.branch_id}"
    stolen = client.get(base + "&table=tasks&kind=stolen")
    assert stolen.status_code == 400 and "“kind” must be one of" in stolen.content.decode()
    assert client.get(base + "&table=tasks&kind=deleted&cursor=forged").status_code == 400
    assert client.get(base + "&table=nope&kind=deleted").status_code == 404
    assert client.get(f"/users/u/{ALICE}/compare/?branch=..%2Fetc").status_code == 404
    assert client.get(f"/users/u/{ALICE}/compare/?job=99999999").status_code == 404
    assert client.get(f"/users/u/{ALICE}/compare/?job=%C2%B2").status_code == 400  # "²"
    assert client.get(base + "&as_of=soon").status_code == 400


def test_as_of_on_the_local_provider_picks_the_newest_snapshot_at_or_before(
    support_client, tm: World
):
    client = with_reason(support_client)
    when = datetime.now(UTC).replace(microsecond=0)  # after the snapshot was taken
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": when.strftime("%Y-%m-%dT%H:%M:%S")}
    )
    assert response.status_code == 302
    assert f"branch={tm.branch_id}" in response["Location"] and "as_of=" in response["Location"]
    html = page(client, response["Location"])
    assert f'data-snapshot="{tm.branch_name}"' in html
    assert "Local branches cannot go back in time. This compares with snapshot" in html

    earlier = datetime.now(UTC) - timedelta(days=3)
    response = client.post(
        f"/users/u/{ALICE}/compare/as-of/", {"when": earlier.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302 and response["Location"] == f"/users/u/{ALICE}/compare/"
    html = page(client, response["Location"])
    assert "There is no snapshot at or before" in html
    assert f"the oldest kept is {tm.branch_name}" in html

    response = client.post(f"/users/u/{ALICE}/compare/as-of/", {"when": "yesterday-ish"})
    assert "Enter a date and time" in page(client, response["Location"])


def test_the_newest_snapshot_at_or_before_the_time_is_chosen():
    def snap(name: str, minute: int, state: str = READY) -> BranchInfo:
        at = datetime(2025, 1, 31, 12, minute, tzinfo=UTC)
        return BranchInfo(id=name, name=f"snapshot-{name}", state=state, created_at=at)

    branches = [snap("a", 0), snap("b", 30), snap("c", 45, "creating"), snap("d", 50)]
    when = datetime(2025, 1, 31, 12, 47, tzinfo=UTC)
    assert snapshot_at_or_before(branches, when).id == "b"  # c is not complete, d is later
    assert snapshot_at_or_before(branches, datetime(2025, 1, 31, 11, 0, tzinfo=UTC)) is None
    other = BranchInfo(id="x", name="feature", state=READY, created_at=when)
    assert snapshot_at_or_before([other], when) is None


@contextmanager
def slow_in_the_branch(world: World, table: str, seconds: float) -> Iterator[None]:
    """Make every read of `table` in the branch sleep `seconds` first (a policy that sleeps,
    forced on the branch's owner, which the comparison reads the branch as)."""
    url = world.provider.migration_url(world.branch_id).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE POLICY tm_slow ON {table} USING ((SELECT true FROM pg_sleep({seconds})))"
        )
        conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
        try:
            yield
        finally:
            conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            conn.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            conn.execute(f"DROP POLICY tm_slow ON {table}")


def test_a_table_past_compare_timeout_ms_says_so_and_the_others_still_count(
    support_client, tm: World, settings
):
    settings.COMPARE_TIMEOUT_MS = 300
    # The lock timeout is far longer: only the statement budget can stop the waits below.
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 60_000}
    target("DELETE FROM messages WHERE id = %s", (ALICE_MESSAGES[0],))
    client = with_reason(support_client)
    url = f"/users/u/{ALICE}/compare/?branch={tm.branch_id}"
    page(client, url)  # the schema is reflected (reflection, too, waits for the lock below)

    # tm_notes is slow to read in the branch; tasks, now, waits behind a migration's lock.
    with slow_in_the_branch(tm, "tm_notes", 5), psycopg.connect(owner_url()) as blocker:
        blocker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        html = page(client, url)
        assert time.monotonic() - started < 4  # stopped at the budget, not after the sleep
        blocker.rollback()

    for table in ("tm_notes", "tasks"):
        card = re.search(rf'<section[^>]*data-table="{table}">.*?</section>', html, re.S)
        assert card, f"{table} is not listed as differing"
        assert "Reading this table took too long and was stopped (COMPARE_TIMEOUT_MS)" in card[0]
    assert re.search(r'id="rows-messages-deleted"[^>]*data-count="1"', html)
    counts = AuditEvent.objects.filter(action="user.compare").latest("id").detail["counts"]
    assert counts["tm_notes"]["timed_out"] is True and counts["tasks"]["timed_out"] is True
    assert counts["messages"]["deleted"] == 1 and counts["messages"]["timed_out"] is False


def test_times_said_to_be_utc_are_utc_whatever_time_zone_the_console_shows(
    support_client, tm: World, settings
):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9, no summer time: the "as of" form is in it
    tokyo = timezone.get_default_timezone()
    client = with_reason(support_client)
    taken = tm.provider.get_branch(tm.branch_id).created_at.astimezone(UTC)

    earlier = datetime.now(UTC) - timedelta(days=3)
    typed = earlier.astimezone(tokyo).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/users/u/{ALICE}/compare/as-of/", {"when": typed})
    html = page(client, response["Location"])
    assert f"There is no snapshot at or before {earlier:%Y-%m-%d %H:%M} UTC" in html
    assert f"taken {taken:%Y-%m-%d %H:%M} UTC" in html

    now = datetime.now(UTC).replace(microsecond=0)  # after the snapshot was taken
    typed = now.astimezone(tokyo).strftime("%Y-%m-%dT%H:%M:%S")
    response = client.post(f"/users/u/{ALICE}/compare/as-of/", {"when": typed})
    html = page(client, response["Location"])
    assert f"{tm.branch_name}</strong>, taken {taken:%Y-%m-%d %H:%M} UTC" in html
    assert f"at or before {now:%Y-%m-%d %H:%M} UTC" in html

    # The first and last minutes the form takes, in a zone east and one west of Greenwich.
    response = client.post(f"/users/u/{ALICE}/compare/as-of/", {"when": "0001-01-01T00:00"})
    assert "The time is before any history a database keeps." in page(client, response["Location"])
    settings.TIME_ZONE = "America/Los_Angeles"
    response = client.post(f"/users/u/{ALICE}/compare/as-of/", {"when": "9999-12-31T23:59"})
    assert "The time must be in the past." in page(client, response["Location"])
