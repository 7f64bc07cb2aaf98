"""The audit page says whether the chain holds, verifying only what is new since its checkpoint,
and says when the console's own role could erase the trail."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from core.audit_owner import audit_owner_lent
from core.embedded import CONSOLE_ROLE
from dashboard.audit.models import AuditEvent, ChainCheck
from dashboard.audit.verification import chain_status
from tests.conftest import superuser_database_url
from tests.dashboard.audit.tamper import add_events, as_superuser

pytestmark = pytest.mark.django_db(transaction=True)


def page(client, **headers) -> str:
    response = client.get("/audit/", **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_says_the_chain_holds(admin_client):
    ids = add_events(3)
    text = page(admin_client)
    assert f"The chain holds: 3 events verified, through #{ids[-1]}" in text
    assert "Last full verification: never" in text
    assert "could then change or erase" not in text


def test_the_htmx_partial_does_not_verify(admin_client, htmx_headers):
    add_events(2)
    text = page(admin_client, **htmx_headers)
    assert 'id="events"' in text and "The chain holds" not in text
    assert not ChainCheck.objects.exists()


def test_a_row_altered_by_a_superuser_shows_on_the_page(admin_client):
    ids = add_events(3)
    as_superuser("UPDATE audit_auditevent SET subject_user = 'acc_other' WHERE id = %s", [ids[1]])
    text = page(admin_client)
    assert f"The audit chain is broken at event #{ids[1]}." in text
    assert "The chain holds" not in text


def test_a_row_deleted_in_the_middle_shows_on_the_page(admin_client):
    ids = add_events(3)
    as_superuser("DELETE FROM audit_auditevent WHERE id = %s", [ids[1]])
    assert f"The audit chain is broken at event #{ids[2]}." in page(admin_client)


def test_each_view_verifies_a_bounded_number_of_new_events(admin_client, settings):
    settings.AUDIT_VERIFY_PAGE_EVENTS = 3
    ids = add_events(7)
    assert chain_status().events == 3
    assert "Newer events are verified over the next views" in page(admin_client)  # 6 now
    last = chain_status()
    assert (last.events, last.through_id, last.pending) == (7, ids[-1], False)
    # Nothing new: the next view reads only the checkpoint's event.
    assert chain_status().events == 7
    assert ChainCheck.objects.filter(full=False).count() == 1  # older checkpoints pruned


def test_the_checkpoint_event_changed_after_it_was_verified_is_seen(admin_client):
    ids = add_events(3)
    assert chain_status().holds
    as_superuser("UPDATE audit_auditevent SET reason = 'later edit' WHERE id = %s", [ids[-1]])
    assert f"The audit chain is broken at event #{ids[-1]}." in page(admin_client)


def test_an_older_change_shows_once_the_full_verification_has_run(admin_client):
    # The page only re-reads what is new; events behind its checkpoint are re-read by the full
    # verification (audit_verify, or the worker's nightly run), whose finding the page shows.
    ids = add_events(4)
    assert chain_status().holds
    as_superuser("DELETE FROM audit_auditevent WHERE id = %s", [ids[1]])
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=StringIO(), stderr=StringIO())
    text = page(admin_client)
    assert f"The audit chain is broken at event #{ids[2]}." in text
    assert f"broken at #{ids[2]}" in text  # the last full verification's line


def test_the_page_warns_when_the_console_could_erase_the_trail(admin_client, settings):
    add_events(1)
    with audit_owner_lent(superuser_database_url(), CONSOLE_ROLE):
        text = page(admin_client)
    assert f"is a member of {settings.AUDIT_OWNER_ROLE}" in text
    assert "could then change or erase audit events" in text
    assert "could then change or erase" not in page(admin_client)


def forge_event(prev_hash: str) -> int:
    """Append an event the way the console's own database role could, without the key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (at, operator_name, action, subject_user, tables, "
            "reason, detail, prev_hash, hash) VALUES (now(), 'ada-admin', 'user.view', "
            "'acc_x', '{}', 'SUP-9 forged', '{}', %s, %s) RETURNING id",
            [prev_hash, "f" * 64],
        )
        return cursor.fetchone()[0]


def forge_check(*, full: bool, through_id: int, through_hash: str, events: int, minutes=0):
    """Write a verification record the way the console's database role could (no key)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO audit_chaincheck (checked_at, "full", through_id, through_hash, events, '
            "problem) VALUES (now() + %s * interval '1 minute', %s, %s, %s, %s, '')",
            [minutes, full, through_id, through_hash, events],
        )


def test_the_console_role_cannot_vouch_for_a_forged_event(admin_client):
    """The console's role may append events (without the key, their hash is wrong) and owns
    the table of verification records: writing a checkpoint past a forged event, or a full
    verification that found nothing, must not make the page say the chain holds."""
    add_events(2)
    assert chain_status().holds
    forged = forge_event(AuditEvent.objects.order_by("-id").first().hash)
    [after] = add_events(1)  # a genuine event chained after the forged one
    genuine = AuditEvent.objects.get(pk=after)
    for full in (False, True):
        forge_check(full=full, through_id=after, through_hash=genuine.hash, events=4)
    assert f"The audit chain is broken at event #{forged}." in page(admin_client)
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=StringIO(), stderr=StringIO())
    # And the full verification's finding, hidden under a newer one that found nothing.
    forge_check(full=True, through_id=after, through_hash=genuine.hash, events=4, minutes=1)
    assert f"The audit chain is broken at event #{forged}." in page(admin_client)
