"""`manage.py audit_verify`: the whole chain, the first broken link named, a non-zero exit."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from core.audit_owner import audit_owner_lent
from core.embedded import CONSOLE_ROLE
from dashboard.audit.models import ChainCheck
from tests.conftest import superuser_database_url
from tests.dashboard.audit.tamper import add_events, as_superuser

pytestmark = pytest.mark.django_db(transaction=True)


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    return out.getvalue()


def broken(expected_returncode: int = 1) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", stdout=StringIO(), stderr=StringIO())
    assert failure.value.returncode == expected_returncode
    return str(failure.value)


def test_an_empty_trail_verifies():
    assert "empty" in verify()


def test_an_untouched_chain_holds_and_names_its_newest_hash():
    ids = add_events(3)
    output = verify()
    assert f"3 events verified; the newest is #{ids[-1]}" in output
    check = ChainCheck.objects.get(full=True)
    assert (check.through_id, check.events, check.broken_id) == (ids[-1], 3, None)


def test_a_row_changed_by_a_superuser_is_named():
    ids = add_events(4)
    as_superuser("UPDATE audit_auditevent SET reason = 'nothing to see' WHERE id = %s", [ids[1]])
    message = broken()
    assert f"broken at event #{ids[1]}" in message
    assert "changed after it was written" in message
    assert ChainCheck.objects.get(full=True).broken_id == ids[1]


def test_a_row_deleted_in_the_middle_is_named_by_the_event_after_it():
    ids = add_events(4)
    as_superuser("DELETE FROM audit_auditevent WHERE id = %s", [ids[2]])
    message = broken()
    assert f"broken at event #{ids[3]}" in message
    assert f"does not follow event #{ids[1]}" in message


def test_deleting_the_oldest_events_is_seen():
    ids = add_events(3)
    as_superuser("DELETE FROM audit_auditevent WHERE id = %s", [ids[0]])
    assert f"broken at event #{ids[1]}" in broken()


def test_rehashing_without_the_key_does_not_hide_a_change():
    # The attacker changes a row and stores a fresh (unkeyed) SHA-256 in its hash column.
    ids = add_events(2)
    forged = hashlib.sha256(b"forged").hexdigest()
    as_superuser(
        "UPDATE audit_auditevent SET reason = 'forged', hash = %s WHERE id = %s", [forged, ids[0]]
    )
    assert f"broken at event #{ids[0]}" in broken()


def test_exits_2_when_the_console_could_erase_the_trail():
    add_events(1)
    out, err = StringIO(), StringIO()
    with (
        audit_owner_lent(superuser_database_url(), CONSOLE_ROLE),
        pytest.raises(CommandError) as failure,
    ):
        call_command("audit_verify", stdout=out, stderr=err)
    assert failure.value.returncode == 2
    assert "The chain holds: 1 event verified" in out.getvalue()
    assert f"member of {settings.AUDIT_OWNER_ROLE}" in err.getvalue()
