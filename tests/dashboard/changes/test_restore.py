"""Putting rows back from a branch: SQL first in dependency order, guarded, audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import psycopg
import pytest
from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.schema import reflection as refl
from dashboard.target_write import INTENT, OUTCOME
from dashboard.users.compare import Selected, selection_token
from dashboard.users.ownership import forget_ownership_map
from tests.dashboard.tm_world import (
    ALICE,
    ALICE_CONVERSATION,
    ALICE_MESSAGES,
    ALICE_TASKS,
    BOB_TASKS,
    World,
    owner_url,
    target,
)
from tests.dashboard.users.test_compare_views import with_reason

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def tokens(client: Client, world: World, table: str, kind: str) -> list[str]:
    url = f"/users/u/{ALICE}/compare/?branch={world.branch_id}&table={table}&kind={kind}"
    html = client.get(url, **HTMX).content.decode()
    return re.findall(r'name="row" value="([^"]+)"', html)


def preview(client: Client, world: World, data: dict) -> tuple[str, dict]:
    url = f"/users/u/{ALICE}/compare/restore/?branch={world.branch_id}"
    response = client.post(url, {"step": "preview", **data})
    html = response.content.decode()
    assert response.status_code == 200, html[:800]
    confirm = {
        "step": "apply",
        "row": re.findall(r'name="row" value="([^"]+)"', html),
        "digest": re.search(r'name="digest" value="([^"]+)"', html).group(1),
        "reason": "SUP-9 put them back",
    }
    return html, confirm


def apply(client: Client, world: World, confirm: dict):
    url = f"/users/u/{ALICE}/compare/restore/?branch={world.branch_id}"
    return client.post(url, confirm)


def test_deleted_rows_come_back_with_their_children_parents_first(admin_client, tm: World):
    client = with_reason(admin_client)
    target("DELETE FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS[:2]),))
    target("DELETE FROM conversations WHERE id = %s", (ALICE_CONVERSATION,))

    html, confirm = preview(
        client,
        tm,
        {"row": tokens(client, tm, "tasks", "deleted"), "table": ["messages", "conversations"]},
    )
    statements = [unescape(s) for s in re.findall(r'<pre class="sql"[^>]*>(.*?)</pre>', html, re.S)]
    tables = [re.match(r"INSERT INTO public\.(\w+)", s).group(1) for s in statements]
    assert tables == ["tasks", "tasks", "conversations", "messages", "messages", "messages"]
    assert "ON CONFLICT (id) DO NOTHING" in statements[0]
    assert "'Yes, it''s C:\\tasks'::text" in statements[-1]  # quotes doubled, backslash kept
    assert "Row-level security guards" in html and len(confirm["row"]) == 6

    response = apply(client, tm, confirm)
    assert response.status_code == 200, response.content[:800]
    assert 'data-applied="6" data-skipped="0"' in response.content.decode()
    assert target(
        "SELECT count(*) FROM messages WHERE conversation_id = %s", (ALICE_CONVERSATION,)
    ) == [(3,)]
    assert target("SELECT content FROM messages WHERE id = %s", (ALICE_MESSAGES[2],)) == [
        ("Yes, it's C:\\tasks",)
    ]
    assert target("SELECT count(*) FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS),)) == [(4,)]
    intent = AuditEvent.objects.get(action=INTENT)
    outcome = AuditEvent.objects.get(action=OUTCOME)
    assert intent.detail["kind"] == "restore" and intent.reason == "SUP-9 put them back"
    assert intent.detail["context"]["branch_name"] == tm.branch_name
    assert len(intent.detail["statements"]) == 6 and intent.detail["before"] == []
    assert len(outcome.detail["after"]) == 6 and outcome.detail["status"] == "applied"


def test_a_restore_meets_a_conflict_skips_and_reports_it_never_overwrites(admin_client, tm: World):
    client = with_reason(admin_client)
    target("UPDATE tasks SET title = 'Renamed by the user' WHERE id = %s", (ALICE_TASKS[0],))
    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[1],))
    chosen = tokens(client, tm, "tasks", "changed") + tokens(client, tm, "tasks", "deleted")
    html, confirm = preview(client, tm, {"row": chosen})
    assert (
        "UPDATE public.tasks\nSET user_id = 'tm_alice'::text, title = 'Alice task 1'"
        in unescape(html)
    )

    # Meanwhile the application changes the row again and re-creates the deleted one.
    target("UPDATE tasks SET title = 'Renamed twice' WHERE id = %s", (ALICE_TASKS[0],))
    target(
        "INSERT INTO tasks (id, user_id, title) VALUES (%s, %s, 'Made again')",
        (ALICE_TASKS[1], ALICE),
    )
    response = apply(client, tm, confirm)
    page = response.content.decode()
    assert 'data-applied="0" data-skipped="2"' in page
    assert "the row changed since it was shown (it was not overwritten)" in page
    assert "a row with this key exists now (it was not overwritten)" in page
    assert target(
        "SELECT title FROM tasks WHERE id = ANY(%s) ORDER BY id", (list(ALICE_TASKS[:2]),)
    ) == [
        ("Renamed twice",),
        ("Made again",),
    ]
    skipped = AuditEvent.objects.get(action=OUTCOME).detail["skipped"]
    assert [s["statement"] for s in skipped] == [0, 1]


def test_a_row_of_another_user_cannot_be_slipped_into_a_restore(admin_client, tm: World):
    client = with_reason(admin_client)
    target("DELETE FROM tasks WHERE id = %s", (BOB_TASKS[0],))
    bobs = selection_token(Selected("tasks", (("id", str(BOB_TASKS[0])),), "", "any"))
    url = f"/users/u/{ALICE}/compare/restore/?branch={tm.branch_id}"
    response = client.post(url, {"step": "preview", "row": [bobs]})
    assert response.status_code == 409
    assert "is not the one compared" in response.content.decode()
    response = client.post(url, {"step": "preview", "row": ["forged-token"]})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=INTENT).exists()


def test_restoring_is_for_admins_with_writes_on(support_client, admin_client, tm: World, settings):
    url = f"/users/u/{ALICE}/compare/restore/?branch={tm.branch_id}"
    assert with_reason(support_client).post(url, {"step": "preview"}).status_code == 403
    settings.DATA_WRITES_ENABLED = False
    response = with_reason(admin_client).post(url, {"step": "preview"})
    assert response.status_code == 403 and "DATA_WRITES_ENABLED" in response.content.decode()


LINES_SQL = """
CREATE TABLE tm_note_lines (
    id bigint PRIMARY KEY,
    note_id bigint NOT NULL REFERENCES tm_notes (id) ON DELETE CASCADE,
    line text NOT NULL
);
GRANT ALL ON tm_note_lines TO PUBLIC;
INSERT INTO tm_notes (id, user_id, body) VALUES (940002, 'tm_alice', 'Second note');
INSERT INTO tm_note_lines (id, note_id, line) VALUES (960001, 940001, 'first line');
"""


@pytest.fixture
def note_lines(tm: World) -> Iterator[None]:
    """An indirect table without row-level security (tm_note_lines → tm_notes → users), in
    the target and the branch alike."""
    branch_url = tm.provider.migration_url(tm.branch_id).replace("+psycopg", "")
    for url in (owner_url(), branch_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(LINES_SQL)
    refl.invalidate()
    forget_ownership_map()
    yield
    for url in (owner_url(), branch_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE tm_note_lines")
            conn.execute("DELETE FROM tm_notes WHERE id = 940002")
    refl.invalidate()
    forget_ownership_map()


def test_a_restore_never_moves_a_row_into_another_users_data(admin_client, tm, note_lines):
    client = with_reason(admin_client)
    # Since the branch: the line moved to Alice's other note and was edited, and the note it
    # was on then went to Bob. Setting the line back as it was would put it in Bob's data.
    target("UPDATE tm_note_lines SET note_id = 940002, line = 'edited' WHERE id = 960001")
    target("UPDATE tm_notes SET user_id = 'tm_bob' WHERE id = 940001")
    picked = tokens(client, tm, "tm_note_lines", "changed")
    assert len(picked) == 1
    _, confirm = preview(client, tm, {"row": picked})
    response = apply(client, tm, confirm)
    assert response.status_code == 200, response.content[:600]
    assert target("SELECT note_id, line FROM tm_note_lines WHERE id = 960001") == [
        (940002, "edited")
    ]
    assert AuditEvent.objects.get(action=OUTCOME).detail["skipped"]
