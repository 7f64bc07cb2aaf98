"""Guarded row changes: typed fields, the model's and the database's errors on their fields,
optimistic concurrency, and a delete whose cascade preview matches what it removes."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.target_write import INTENT, OUTCOME
from tests.dashboard.tm_world import (
    ALICE,
    ALICE_CONVERSATION,
    ALICE_LABEL,
    ALICE_MESSAGES,
    ALICE_NOTE,
    ALICE_TASKS,
    BOB,
    BOB_TASKS,
    World,
    target,
)
from tests.dashboard.users.test_compare_views import with_reason

pytestmark = pytest.mark.django_db


def form_data(html: str) -> dict[str, str]:
    """Return the inputs of a change form as the browser would post them."""
    data = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or ('type="checkbox"' in tag and " checked" not in tag):
            continue
        data[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select[^>]*name="([^"]+)">(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = chosen.group(1) if chosen else re.search(r'value="([^"]*)"', body).group(1)
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        data[name] = unescape(value)
    data.pop("csrfmiddlewaretoken", None)
    return data


def open_form(client: Client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:600]
    return form_data(response.content.decode())


def post(client: Client, url: str, data: dict, step: str):
    return client.post(url, {**data, "step": step})


def confirm(client: Client, url: str, data: dict) -> dict:
    response = post(client, url, data, "preview")
    html = response.content.decode()
    assert response.status_code == 200, html[:1200]
    digest = re.search(r'name="digest" value="([^"]+)"', html).group(1)
    return {**data, "digest": digest, "reason": "SUP-5 fix the title"}


def edit_url(table: str, key: int) -> str:
    return f"/users/u/{ALICE}/rows/{table}/edit/?pk.id={key}"


def test_an_edit_sets_only_what_changed_after_showing_the_sql(admin_client, tm: World):
    client = with_reason(admin_client)
    url = edit_url("tasks", ALICE_TASKS[0])
    data = open_form(client, url)
    assert data["v.title"] == "Alice task 1" and data["v.priority"] == "medium"
    data["v.title"] = "Buy oat milk"
    ready = confirm(client, url, data)
    html = unescape(post(client, url, data, "preview").content.decode())
    assert (
        "UPDATE public.tasks\nSET title = 'Buy oat milk'::character varying(200)\n"
        "WHERE id = '910001'::bigint" in html
    )

    response = post(client, url, ready, "apply")
    assert response.status_code == 200 and 'data-applied="1"' in response.content.decode()
    assert target("SELECT title, priority FROM tasks WHERE id = %s", (ALICE_TASKS[0],)) == [
        ("Buy oat milk", "medium")
    ]
    intent = AuditEvent.objects.get(action=INTENT)
    assert intent.detail["kind"] == "edit" and intent.reason == "SUP-5 fix the title"
    assert intent.detail["before"][0]["values"]["title"] == "Alice task 1"
    # Showing the row in a form, and its SQL with values, are looks at the user's data too.
    form_look = AuditEvent.objects.get(action="user.change_form")
    assert form_look.subject_user == ALICE and form_look.tables == ["tasks"]
    assert form_look.detail["rows"]["keys"] == [{"id": str(ALICE_TASKS[0])}]
    assert AuditEvent.objects.filter(action="user.change_preview", subject_user=ALICE).exists()


def test_an_edit_lost_to_a_concurrent_change_overwrites_nothing(admin_client, tm: World):
    client = with_reason(admin_client)
    url = edit_url("tasks", ALICE_TASKS[1])
    data = open_form(client, url)
    data["v.title"] = "Operator's title"
    ready = confirm(client, url, data)
    target(
        "UPDATE tasks SET completed = true WHERE id = %s", (ALICE_TASKS[1],)
    )  # the user, meanwhile

    response = post(client, url, ready, "apply")
    html = response.content.decode()
    assert 'data-applied="0" data-skipped="1"' in html
    assert "the row changed since it was shown" in html
    assert target("SELECT title, completed FROM tasks WHERE id = %s", (ALICE_TASKS[1],)) == [
        ("Alice task 2", True)
    ]


def test_the_model_refuses_a_title_too_long_on_its_field(admin_client, tm: World):
    client = with_reason(admin_client)
    url = edit_url("tasks", ALICE_TASKS[0])
    data = open_form(client, url)
    data["v.title"] = "x" * 201
    response = post(client, url, data, "preview")
    html = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'data-field="title">.*?</div>\s*</div>', html, re.S).group(0)
    assert "String should have at most 200 characters" in field
    assert '<pre class="sql"' not in html  # no SQL until the values are valid


def test_a_check_violation_is_shown_on_its_field(admin_client, tm: World):
    client = with_reason(admin_client)
    url = edit_url("tm_notes", ALICE_NOTE)
    data = open_form(client, url)
    assert "v.api_token" not in data  # masked: shown masked, not editable
    data["v.body"] = "This body is far longer than the forty characters the CHECK allows"
    ready = confirm(client, url, data)  # no model for tm_notes: only the database knows
    response = post(client, url, ready, "apply")
    html = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'data-field="body">.*?</div>\s*</div>', html, re.S).group(0)
    assert "This value is not allowed (CHECK constraint tm_notes_body_short)" in field
    assert target("SELECT body FROM tm_notes WHERE id = %s", (ALICE_NOTE,)) == [("Called support",)]
    outcome = AuditEvent.objects.get(action=OUTCOME)
    assert outcome.detail["status"] == "failed"
    assert outcome.detail["error"]["constraint"] == "tm_notes_body_short"


def field_html(html: str, name: str) -> str:
    """Return the part of a change form that draws one field (up to the next field)."""
    start = html.index(f'data-field="{name}"')
    end = html.find("data-field=", start + 1)
    return html[start : end if end > 0 else html.index("</form>", start)]


def refused_write(table: str) -> tuple[AuditEvent, AuditEvent]:
    """Return the one intent and the one outcome of a write the database refused."""
    intent = AuditEvent.objects.get(action=INTENT)
    outcome = AuditEvent.objects.get(action=OUTCOME)
    assert intent.detail["write_id"] == outcome.detail["write_id"]
    assert outcome.detail["intent"] == intent.pk and intent.reason == outcome.reason
    assert intent.subject_user == outcome.subject_user == ALICE
    assert intent.tables == outcome.tables == [table]
    assert outcome.detail["status"] == "failed"
    assert outcome.detail["applied"] == [] and outcome.detail["after"] == []
    return intent, outcome


def test_a_foreign_key_violation_is_shown_on_its_field(admin_client, tm: World):
    """tm_labels has no row-level security, so the database's foreign key check answers."""
    client = with_reason(admin_client)
    url = edit_url("tm_labels", ALICE_LABEL)
    data = open_form(client, url)
    assert data["v.colour"] == "red"
    data["v.colour"] = "ultraviolet"  # no such row in tm_colours
    response = post(client, url, confirm(client, url, data), "apply")
    html = response.content.decode()
    assert response.status_code == 400
    assert "No row of “tm_colours” has this value (foreign key tm_labels_colour_fkey)" in (
        field_html(html, "colour")
    )
    assert "foreign key" not in field_html(html, "name")
    assert '<div class="notice error" role="alert">The database refused the change: see the' in (
        html
    )
    assert target("SELECT colour, name FROM tm_labels WHERE id = %s", (ALICE_LABEL,)) == [
        ("red", "Urgent")
    ]
    intent, outcome = refused_write("tm_labels")
    assert [image["values"]["colour"] for image in intent.detail["before"]] == ["red"]
    assert "SET colour = 'ultraviolet'" in intent.detail["statements"][0]
    error = outcome.detail["error"]
    assert (error["sqlstate"], error["constraint"]) == ("23503", "tm_labels_colour_fkey")


def test_an_added_row_left_without_a_required_value_is_refused_on_its_field(
    admin_client, tm: World
):
    """A NOT NULL column without a default left empty is no value: NULL goes to the database
    (a trigger could fill it), whose refusal is shown on that field."""
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/tm_labels/add/"
    data = form_data(client.get(url).content.decode())
    assert data["v.user_id"] == ALICE and data["default.id"] == "1"
    assert data["v.name"] == "" and "null.name" not in data  # required: no NULL box
    data["v.colour"] = "green"
    ready = confirm(client, url, data)
    response = post(client, url, ready, "apply")
    html = response.content.decode()
    assert response.status_code == 400
    assert "A value is required here (NOT NULL)." in field_html(html, "name")
    assert "NOT NULL" not in field_html(html, "colour")
    assert target("SELECT id FROM tm_labels WHERE user_id = %s", (ALICE,)) == [(ALICE_LABEL,)]
    intent, outcome = refused_write("tm_labels")
    assert intent.detail["before"] == []  # a new row has no before-image
    assert "SELECT 'tm_alice'::text, 'green'::text, NULL::text" in intent.detail["statements"][0]
    error = outcome.detail["error"]
    assert (error["sqlstate"], error["column"]) == ("23502", "name")


def test_bad_input_is_refused_per_field_before_any_sql(admin_client, tm: World):
    client = with_reason(admin_client)
    url = edit_url("tasks", ALICE_TASKS[0])
    data = open_form(client, url)
    data["v.due_date"] = "next tuesday"
    data.pop("null.due_date", None)
    response = post(client, url, data, "preview")
    assert response.status_code == 400
    assert "Enter a date, or a date and time" in response.content.decode()
    assert client.get(edit_url("tasks", BOB_TASKS[0])).status_code == 404  # not Alice's
    assert client.get(f"/users/u/{ALICE}/rows/tasks/edit/?pk.id=abc").status_code == 404
    assert client.post(url, {"shown": "forged", "step": "preview"}).status_code == 400


def test_adding_a_row_in_the_users_scope(admin_client, tm: World):
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/tasks/add/"
    html = client.get(url).content.decode()
    data = form_data(html)
    assert data["v.user_id"] == ALICE
    data.update({"v.title": "Added by support", "default.id": "1", "default.created_at": "1"})
    data.update({"default.updated_at": "1", "default.completed": "1", "default.priority": "1"})
    data.update({"default.tags": "1", "null.due_date": "1", "null.description": "1"})
    data.update({"null.recurrence": "1"})
    ready = confirm(client, url, data)
    response = post(client, url, ready, "apply")
    assert response.status_code == 200, response.content[:800]
    assert target("SELECT user_id, priority FROM tasks WHERE title = 'Added by support'") == [
        (ALICE, "medium")
    ]
    after = AuditEvent.objects.get(action=OUTCOME).detail["after"]
    assert after[0]["values"]["title"] == "Added by support"


def test_a_delete_previews_its_cascade_and_removes_exactly_that(admin_client, tm: World):
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/conversations/delete/?pk.id={ALICE_CONVERSATION}"
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200, html[:800]
    shown = re.search(r'data-table="messages" data-action="delete" data-count="(\d+)"', html)
    before = target(
        "SELECT count(*) FROM messages WHERE conversation_id = %s", (ALICE_CONVERSATION,)
    )
    assert int(shown.group(1)) == before[0][0] == 3

    data = form_data(html)
    data.update({"step": "apply", "reason": "SUP-6 user asked to delete the chat"})
    response = client.post(url, data)
    assert response.status_code == 200, response.content[:800]
    assert 'and 3 rows of <span class="mono">messages</span> deleted with it' in (
        response.content.decode()
    )
    assert target(
        "SELECT count(*) FROM messages WHERE conversation_id = %s", (ALICE_CONVERSATION,)
    ) == [(0,)]
    intent = AuditEvent.objects.get(action=INTENT)
    cascaded = [i for i in intent.detail["before"] if i["role"] == "cascade:delete"]
    assert sorted(int(dict(i["key"])["id"]) for i in cascaded) == list(ALICE_MESSAGES)


def test_a_delete_whose_cascade_grew_since_the_preview_is_refused(admin_client, tm: World):
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/conversations/delete/?pk.id={ALICE_CONVERSATION}"
    data = form_data(client.get(url).content.decode())
    target(
        "INSERT INTO messages (user_id, conversation_id, role, content) "
        "VALUES (%s, %s, 'user', 'p.s.')",
        (ALICE, ALICE_CONVERSATION),
    )
    response = client.post(url, {**data, "step": "apply", "reason": "SUP-6 delete the chat"})
    assert response.status_code == 409
    assert "would now delete 4 row(s) of “messages”, not the 3" in response.content.decode()
    assert target("SELECT count(*) FROM conversations WHERE id = %s", (ALICE_CONVERSATION,)) == [
        (1,)
    ]
    assert not AuditEvent.objects.filter(action=INTENT).exists()


def test_deleting_the_user_counts_every_table_it_reaches(admin_client, tm: World):
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/users/delete/?pk.id={ALICE}"
    html = client.get(url).content.decode()
    counts = dict(re.findall(r'data-table="(\w+)" data-action="delete" data-count="(\d+)"', html))
    assert counts == {
        "tasks": "4",
        "conversations": "1",
        "messages": "3",
        "tm_notes": "1",
        "tm_labels": "1",
    }


def test_rows_there_now_offer_edit_and_delete_to_admins_with_writes_on(
    admin_client, support_client, tm: World, settings
):
    target("UPDATE tasks SET title = 'Renamed' WHERE id = %s", (ALICE_TASKS[0],))
    part = f"/users/u/{ALICE}/compare/?branch={tm.branch_id}&table=tasks&kind=changed"
    edit = f"/users/u/{ALICE}/rows/tasks/edit/?pk.id={ALICE_TASKS[0]}"
    assert edit in with_reason(admin_client).get(part).content.decode()
    assert edit not in with_reason(support_client).get(part).content.decode()
    row_page = f"/data/tasks/row/?pk.id={ALICE_TASKS[0]}&scope_user={ALICE}"
    assert edit in admin_client.get(row_page).content.decode()
    settings.DATA_WRITES_ENABLED = False
    assert edit not in admin_client.get(row_page).content.decode()
    assert admin_client.get(edit).status_code == 403


def test_a_unique_violation_is_shown_on_its_field_and_an_edit_cannot_move_a_row(
    admin_client, tm: World
):
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/users/edit/?pk.id={ALICE}"
    data = open_form(client, url)
    assert "v.id" not in data  # the key (and the owner column elsewhere) is not editable
    data["v.email"] = "tm_bob@example.com"  # Bob's
    response = post(client, url, confirm(client, url, data), "apply")
    html = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'data-field="email">.*?</div>\s*</div>', html, re.S).group(0)
    assert "Another row has this value already (unique constraint" in field

    task_url = edit_url("tasks", ALICE_TASKS[0])
    data = open_form(client, task_url)
    assert "v.user_id" not in data
    data.update({"v.user_id": "tm_bob", "v.title": "Still Alice's"})  # a forged field
    response = post(client, task_url, confirm(client, task_url, data), "apply")
    assert response.status_code == 200
    assert target("SELECT user_id, title FROM tasks WHERE id = %s", (ALICE_TASKS[0],)) == [
        (ALICE, "Still Alice's")
    ]


@pytest.mark.parametrize("page", ["edit", "delete"])
def test_a_form_of_one_users_row_is_refused_on_another_users_page(admin_client, tm: World, page):
    """The signed record of the row a form showed is for that end-user and table only: posted
    to another end-user's page (or another table's), it is refused before any SQL is shown or
    any change is audited under the wrong end-user."""
    client = with_reason(admin_client)
    data = open_form(client, f"/users/u/{ALICE}/rows/tasks/{page}/?pk.id={ALICE_TASKS[1]}")
    data.update({"v.title": "Moved across", "reason": "SUP-9 slip"})
    with_reason(client, BOB)
    events = AuditEvent.objects.count()

    for url in (
        f"/users/u/{BOB}/rows/tasks/{page}/?pk.id={BOB_TASKS[0]}",
        f"/users/u/{BOB}/rows/tm_notes/{page}/?pk.id={BOB_TASKS[0]}",
    ):
        for step in ("preview", "apply"):
            response = client.post(url, {**data, "step": step})
            html = response.content.decode()
            assert response.status_code == 400, (url, step, html[:800])
            assert "The form was damaged or edited; open the row again." in html
            assert str(ALICE_TASKS[1]) not in html

    assert AuditEvent.objects.count() == events


def test_an_added_row_refused_by_the_database_can_be_corrected_and_added_once(
    admin_client, tm: World
):
    """The add form's one-time mark stops a second submit of an applied add, not the retry of
    one the database refused (nothing was written)."""
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/tm_labels/add/"
    data = form_data(client.get(url).content.decode())
    data["v.colour"] = "green"
    refused = post(client, url, confirm(client, url, data), "apply")
    assert refused.status_code == 400
    corrected = form_data(refused.content.decode())  # the same form, shown again
    assert corrected["once"] == data["once"]
    corrected["v.name"] = "Later"

    ready = confirm(client, url, corrected)
    assert post(client, url, ready, "apply").status_code == 200
    again = post(client, url, ready, "apply")

    assert again.status_code == 409
    assert "This change was applied already" in again.content.decode()
    names = target("SELECT name FROM tm_labels WHERE user_id = %s ORDER BY name", (ALICE,))
    assert names == [("Later",), ("Urgent",)]


def test_a_cascade_reaching_another_users_rows_is_said_first_and_never_deleted(
    admin_client, tm: World
):
    """Bob's message in Alice's chat: deleting the chat would cascade to it. The preview says
    so before the reason is asked (the write role cannot see Bob's row, so the write would
    only find Alice's and refuse), and the delete is refused, deleting nothing of either."""
    target(
        "INSERT INTO messages (user_id, conversation_id, role, content) "
        "VALUES (%s, %s, 'user', 'Bob was here')",
        (BOB, ALICE_CONVERSATION),
    )
    client = with_reason(admin_client)
    url = f"/users/u/{ALICE}/rows/conversations/delete/?pk.id={ALICE_CONVERSATION}"
    html = client.get(url).content.decode()
    assert "1 row of “messages” that this delete reaches belongs to another end-user" in html

    response = client.post(url, {**form_data(html), "step": "apply", "reason": "SUP-6 chat"})

    assert response.status_code == 409
    assert "or rows of another end-user" in response.content.decode()
    assert target(
        "SELECT count(*) FROM messages WHERE conversation_id = %s", (ALICE_CONVERSATION,)
    ) == [(4,)]
    assert not AuditEvent.objects.filter(action=INTENT).exists()
