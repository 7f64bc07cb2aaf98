"""The gates of the pages that change rows: every change needs its reason, and only
administrators change rows.

Each page (edit, add, delete, restore from a branch, revert an audited change) is first taken
by an administrator up to the step that writes, so that what is refused below is a change that
would otherwise be applied: the same confirmed form without its reason, or posted by a support
or an engineer operator (each with the reason for the end-user given, so the role alone stops
them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.db import connections
from django.test import Client

from dashboard import write_images
from dashboard.audit.models import AuditEvent
from dashboard.target_write import INTENT, OUTCOME
from tests.dashboard.changes.test_restore import preview as restore_preview
from tests.dashboard.changes.test_restore import tokens
from tests.dashboard.changes.test_revert import edit_title
from tests.dashboard.changes.test_row_edits import confirm, edit_url, form_data, open_form
from tests.dashboard.tm_world import ALICE, ALICE_CONVERSATION, ALICE_TASKS, World, target
from tests.dashboard.users.test_compare_views import with_reason

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
NO_REASON = "Give a reason for this change; it is written to the audit trail."


@dataclass
class Ready:
    """A change confirmed up to its last step: POSTing `data` to `url` would write it."""

    url: str
    data: dict[str, object]


def ready_edit(client: Client, world: World) -> Ready:
    url = edit_url("tasks", ALICE_TASKS[0])
    data = open_form(client, url)
    data["v.title"] = "Changed without a say"
    return Ready(url, {**confirm(client, url, data), "step": "apply"})


def ready_add(client: Client, world: World) -> Ready:
    url = f"/users/u/{ALICE}/rows/tasks/add/"
    data = form_data(client.get(url).content.decode())
    data.update({"v.title": "Added without a say", "default.id": "1", "default.created_at": "1"})
    data.update({"default.updated_at": "1", "default.completed": "1", "default.priority": "1"})
    data.update({"default.tags": "1", "null.due_date": "1", "null.description": "1"})
    data.update({"null.recurrence": "1"})
    return Ready(url, {**confirm(client, url, data), "step": "apply"})


def ready_delete(client: Client, world: World) -> Ready:
    url = f"/users/u/{ALICE}/rows/conversations/delete/?pk.id={ALICE_CONVERSATION}"
    data = form_data(client.get(url).content.decode())
    return Ready(url, {**data, "step": "apply", "reason": "SUP-10 delete the chat"})


def ready_restore(client: Client, world: World) -> Ready:
    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[0],))
    _, data = restore_preview(client, world, {"row": tokens(client, world, "tasks", "deleted")})
    return Ready(f"/users/u/{ALICE}/compare/restore/?branch={world.branch_id}", data)


def ready_revert(client: Client, world: World) -> Ready:
    edit_title(client, ALICE_TASKS[1], "Wrong title")  # the change to revert, with its reason
    url = f"/audit/{AuditEvent.objects.get(action=INTENT).pk}/revert/"
    digest = re.search(r'name="digest" value="([^"]+)"', client.get(url).content.decode())
    assert digest, "the revert page shows no digest"
    return Ready(url, {"step": "apply", "digest": digest[1], "reason": "SUP-10 undo"})


CHANGES: dict[str, Callable[[Client, World], Ready]] = {
    "edit": ready_edit,
    "add": ready_add,
    "delete": ready_delete,
    "restore": ready_restore,
    "revert": ready_revert,
}


def alices_rows() -> list[tuple]:
    """Return everything of Alice's a change above could touch, to see that none did."""
    return target(
        "SELECT 'tasks', id, title FROM tasks WHERE user_id = %s "
        "UNION ALL SELECT 'conversations', id, '' FROM conversations WHERE user_id = %s "
        "UNION ALL SELECT 'messages', id, content FROM messages WHERE user_id = %s "
        "ORDER BY 1, 2",
        (ALICE, ALICE, ALICE),
    )


def write_events() -> int:
    return AuditEvent.objects.filter(action__in=[INTENT, OUTCOME]).count()


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_change_without_a_reason_is_refused_with_a_sentence(admin_client, tm: World, kind):
    client = with_reason(admin_client)  # the reason for the end-user: not for the change
    ready = CHANGES[kind](client, tm)
    rows, events = alices_rows(), write_events()

    invisible = {"reason": "\u200b\u200b\u200b"}  # zero-width spaces: no reason either
    formats = {"reason": "\ufeff\u2060\u00ad\u200b \u200d\u0300"}  # BOM, joiners, marks
    for missing in ({"reason": "   "}, {"reason": ""}, invisible, formats, None):
        data = {**ready.data, **missing} if missing else {**ready.data}
        if missing is None:
            del data["reason"]
        response = client.post(ready.url, data)
        html = response.content.decode()
        assert response.status_code == 400, (missing, html[:800])
        assert f'<div class="notice error" role="alert">{NO_REASON}</div>' in html
        assert 'name="digest"' in html  # the preview again, ready for a reason

    assert alices_rows() == rows
    assert write_events() == events
    # The same form with its reason is applied: the refusal was the missing reason alone.
    assert client.post(ready.url, ready.data).status_code == 200
    assert alices_rows() != rows


@pytest.mark.parametrize("role", ["support", "engineer"])
@pytest.mark.parametrize("kind", list(CHANGES))
def test_only_admins_change_rows(admin_client, operator_factory, tm: World, kind, role):
    ready = CHANGES[kind](with_reason(admin_client), tm)
    rows, events = alices_rows(), write_events()
    operator = Client()
    operator.force_login(operator_factory(f"{role}-operator", role))
    operator = with_reason(operator)

    for headers in ({}, HTMX):
        for response in (
            operator.get(ready.url, **headers),
            operator.post(ready.url, ready.data, **headers),
        ):
            html = response.content.decode()
            assert response.status_code == 403, (headers, response.request["REQUEST_METHOD"])
            assert "This needs the <strong>admin</strong> role" in html
            assert "change end-users&#x27; rows" in html  # the role's powers named
            assert ("<html" in html) is not bool(headers)  # htmx: the notice alone

    assert alices_rows() == rows
    assert write_events() == events


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_change_submitted_twice_is_applied_once(admin_client, tm: World, kind):
    """A double click, or the browser's back then submit again: the same confirmed form posted
    twice. An edit, delete, restore or revert is guarded by the row's fingerprint or key; an
    added row whose key the database assigns has no such guard, so the form's one-time mark
    stops the second."""
    client = with_reason(admin_client)
    ready = CHANGES[kind](client, tm)
    assert client.post(ready.url, ready.data).status_code == 200
    rows, events = alices_rows(), write_events()

    again = client.post(ready.url, ready.data)

    assert again.status_code in (200, 409), again.content.decode()[:800]
    assert alices_rows() == rows
    if kind == "add":
        assert again.status_code == 409
        assert "applied already" in again.content.decode()
        assert write_events() == events  # refused before its intent: nothing to audit


@pytest.mark.django_db(transaction=True)
def test_an_add_submitted_twice_at_once_is_applied_once(admin_client, tm: World, monkeypatch):
    """Two submits of the same add form at the same moment (two requests, two sessions with
    the target): the second waits on the first's one-time mark, then finds it applied."""
    client = with_reason(admin_client)
    ready = ready_add(client, tm)
    rows = alices_rows()
    cookies = client.cookies
    before_images = write_images.before_images

    def slowly(*args):  # widen the moment between the check and the intent: both are in it
        time.sleep(0.4)
        return before_images(*args)

    monkeypatch.setattr(write_images, "before_images", slowly)

    def submit(_: int) -> int:
        other = Client()
        other.cookies = cookies
        try:
            return other.post(ready.url, ready.data).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(submit, range(2)))

    assert statuses == [200, 409]
    assert len(alices_rows()) == len(rows) + 1
    assert AuditEvent.objects.filter(action=INTENT).count() == 1
