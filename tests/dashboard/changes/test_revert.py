"""Each write's event shows the rows before and after; revert applies the inverse, guarded."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.target_write import INTENT, OUTCOME
from tests.dashboard.changes.test_row_edits import confirm, edit_url, form_data, open_form, post
from tests.dashboard.tm_world import (
    ALICE,
    ALICE_CONVERSATION,
    ALICE_NOTE,
    ALICE_TASKS,
    World,
    target,
)
from tests.dashboard.users.test_compare_views import with_reason

pytestmark = pytest.mark.django_db


def edit_title(client: Client, task: int, title: str) -> None:
    url = edit_url("tasks", task)
    data = open_form(client, url)
    data["v.title"] = title
    assert post(client, url, confirm(client, url, data), "apply").status_code == 200


def delete(client: Client, table: str, key: object) -> None:
    url = f"/users/u/{ALICE}/rows/{table}/delete/?pk.id={key}"
    data = form_data(client.get(url).content.decode())
    response = client.post(url, {**data, "step": "apply", "reason": "SUP-8 delete it"})
    assert response.status_code == 200, response.content[:600]


def revert(client: Client, intent: AuditEvent):
    url = f"/audit/{intent.pk}/revert/"
    html = client.get(url).content.decode()
    digest = re.search(r'name="digest" value="([^"]+)"', html).group(1)
    return html, client.post(url, {"step": "apply", "digest": digest, "reason": "SUP-8 undo"})


def test_an_event_shows_before_and_after_and_reverts_an_edit(admin_client, tm: World):
    client = with_reason(admin_client)
    edit_title(client, ALICE_TASKS[0], "Wrong title")
    intent = AuditEvent.objects.get(action=INTENT)

    page = client.get(f"/audit/{intent.pk}/").content.decode()
    changed = re.search(r'<tr class="changed"><td class="mono">title</td>(.*?)</tr>', page, re.S)
    assert changed and "Alice task 1" in changed.group(1) and "Wrong title" in changed.group(1)
    assert "Revert this change…" in page
    outcome = AuditEvent.objects.get(action=OUTCOME)
    from_outcome = client.get(f"/audit/{outcome.pk}/").content.decode()
    assert changed.group(0) in from_outcome and "Revert this change…" in from_outcome
    assert AuditEvent.objects.filter(action="audit.view_change", subject_user=ALICE).exists()
    listed = client.get("/audit/").content.decode()
    assert "Wrong title" not in listed and "1 (on the event&#x27;s page)" in listed

    html, response = revert(client, intent)
    assert "SET title = &#x27;Alice task 1&#x27;" in html
    assert response.status_code == 200 and 'data-applied="1"' in response.content.decode()
    assert target("SELECT title FROM tasks WHERE id = %s", (ALICE_TASKS[0],)) == [("Alice task 1",)]
    undo = AuditEvent.objects.filter(action=INTENT).order_by("id").last()
    assert undo.detail["kind"] == "revert" and undo.detail["context"]["reverts"] == intent.pk


def test_a_revert_never_overwrites_what_changed_since(admin_client, tm: World):
    client = with_reason(admin_client)
    edit_title(client, ALICE_TASKS[0], "Operator title")
    intent = AuditEvent.objects.get(action=INTENT)
    target("UPDATE tasks SET title = 'User title' WHERE id = %s", (ALICE_TASKS[0],))
    _, response = revert(client, intent)
    assert 'data-skipped="1"' in response.content.decode()
    assert target("SELECT title FROM tasks WHERE id = %s", (ALICE_TASKS[0],)) == [("User title",)]


def test_reverting_a_delete_brings_the_cascade_back(admin_client, tm: World):
    client = with_reason(admin_client)
    before = target(
        "SELECT id, content FROM messages WHERE conversation_id = %s ORDER BY id",
        (ALICE_CONVERSATION,),
    )
    delete(client, "conversations", ALICE_CONVERSATION)
    assert target(
        "SELECT count(*) FROM messages WHERE conversation_id = %s", (ALICE_CONVERSATION,)
    ) == [(0,)]
    intent = AuditEvent.objects.get(action=INTENT)

    html, response = revert(client, intent)
    assert html.index("INSERT INTO public.conversations") < html.index(
        "INSERT INTO public.messages"
    )
    assert response.status_code == 200, response.content[:600]
    assert (
        target(
            "SELECT id, content FROM messages WHERE conversation_id = %s ORDER BY id",
            (ALICE_CONVERSATION,),
        )
        == before
    )


def test_a_revert_that_needs_a_masked_value_is_refused(admin_client, tm: World):
    client = with_reason(admin_client)
    delete(client, "tm_notes", ALICE_NOTE)
    intent = AuditEvent.objects.get(action=INTENT)
    assert "sk_live_secret_value" not in str(intent.detail)  # the trail never holds it
    response = client.get(f"/audit/{intent.pk}/revert/")
    assert response.status_code == 409
    assert "masked columns (api_token)" in response.content.decode()


def test_the_event_page_of_a_change_needs_the_reason_for_its_user(admin_client, tm: World):
    client = with_reason(admin_client)
    edit_title(client, ALICE_TASKS[2], "Changed")
    intent = AuditEvent.objects.get(action=INTENT)
    fresh = Client()
    fresh.force_login(AuditEvent.objects.get(action=OUTCOME).operator)
    response = fresh.get(f"/audit/{intent.pk}/")
    assert response.status_code == 302 and "/users/reason/" in response["Location"]
    assert fresh.get("/audit/999999999/").status_code == 404


def test_a_restore_that_set_a_masked_column_back_is_not_half_reverted(admin_client, tm: World):
    from tests.dashboard.changes.test_restore import apply, preview, tokens

    client = with_reason(admin_client)
    target(
        "UPDATE tm_notes SET api_token = 'sk_live_rotated', body = 'Edited' WHERE id = %s",
        (ALICE_NOTE,),
    )
    _, restoring = preview(client, tm, {"row": tokens(client, tm, "tm_notes", "changed")})
    assert apply(client, tm, restoring).status_code == 200
    assert target("SELECT api_token FROM tm_notes WHERE id = %s", (ALICE_NOTE,)) == [
        ("sk_live_secret_value",)
    ]
    intent = AuditEvent.objects.get(action=INTENT)
    # Both images show the token as ********: only body looks changed, yet the restore also
    # set the token back. Reverting body alone would leave the token as restored, silently.
    response = client.get(f"/audit/{intent.pk}/revert/")
    assert response.status_code == 409, response.content[:600]
    assert "masked columns (api_token)" in response.content.decode()

    # An edit never sets a masked column: its revert is offered on the same row.
    url = edit_url("tm_notes", ALICE_NOTE)
    data = open_form(client, url)
    data["v.body"] = "Edited again"
    assert post(client, url, confirm(client, url, data), "apply").status_code == 200
    edited = AuditEvent.objects.filter(action=INTENT).latest("id")
    assert client.get(f"/audit/{edited.pk}/revert/").status_code == 200
