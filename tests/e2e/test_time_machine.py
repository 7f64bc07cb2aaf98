"""The whole ticket in a real browser: “my tasks and a chat disappeared”.

Make a branch, delete some of one user's tasks and a conversation with its messages as the
application would (as its runtime role, through core.access), open the user, compare with the
branch, see exactly those rows as deleted, restore them, find them back with their children,
and read it all in the audit trail. SCHEMADESK_SCREENSHOTS=<folder> saves the pages.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import psycopg
import pytest

from core.access import (
    add_message,
    create_conversation,
    create_task,
    delete_conversation,
    delete_task,
    user_session,
)
from dashboard.audit.models import AuditEvent
from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.provider import BranchError
from dashboard.schema import reflection as refl
from dashboard.users.ownership import forget_ownership_map
from tests.dashboard.tm_world import on_tm_database, owner_url, tm_database  # noqa: F401
from tests.e2e.conftest import log_in, shot, worker_in_background

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBJECT = "e2e_tm_subject"
BRANCH = "e2e-before-ticket"


@pytest.fixture
def ticket(settings, on_tm_database) -> Iterator[dict]:  # noqa: F811
    """An end-user with 4 tasks and a conversation of 3 messages in the time machine's own
    target database (tests/dashboard/tm_world.py); row changes on."""
    settings.USERS_TABLE = ""
    settings.USER_LINKS = {}
    settings.SUPPORT_REASON_REQUIRED = True
    settings.DATA_WRITES_ENABLED = True
    refl.invalidate()
    forget_ownership_map()
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (SUBJECT,))
        conn.execute(
            "INSERT INTO users (id, email, name) VALUES (%s, 'e2e.tm@example.com', 'Tess')",
            (SUBJECT,),
        )
    with user_session(SUBJECT) as session:  # the application itself, as todo_app
        tasks = [create_task(session, SUBJECT, title=f"Ticket task {n}").id for n in range(1, 5)]
        chat = create_conversation(session, SUBJECT).id
        for n, role in enumerate(("user", "assistant", "user"), start=1):
            add_message(session, SUBJECT, chat, role=role, content=f"Chat line {n}")
    yield {"tasks": tasks, "conversation": chat}
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (SUBJECT,))
    provider = LocalProvider.from_settings()
    for branch in provider.list_branches():
        if branch.name == BRANCH:
            with contextlib.suppress(BranchError):  # gone already
                provider.delete_branch(branch.id)


def test_a_ticket_from_vanished_rows_to_rows_back(page, admin_user, ticket):
    log_in(page, admin_user)

    # 1. A branch of the target, made through the console (a background job).
    page.goto("/branches/new/")
    page.fill("#id_name", BRANCH)
    page.click("button:has-text('Create branch')")
    page.locator(".branch-job").wait_for()
    worker = worker_in_background()
    page.locator('.branch-job[data-status="succeeded"]').wait_for(timeout=60_000)
    worker.join(timeout=30)

    # 2. The application deletes two tasks and the conversation (its messages go with it).
    with user_session(SUBJECT) as session:
        assert delete_task(session, SUBJECT, ticket["tasks"][0])
        assert delete_task(session, SUBJECT, ticket["tasks"][2])
        assert delete_conversation(session, SUBJECT, ticket["conversation"])

    # 3. Support opens the user (a reason first) and compares with the branch.
    page.goto(f"/users/u/{SUBJECT}/")
    page.fill("input[name=reason]", "SUP-4242 my tasks and a chat vanished")
    page.click("text=Show the data")
    page.locator("#table-tasks").wait_for()
    assert "2 rows" in page.locator("#table-tasks .badge").first.inner_text()
    page.click("text=Compare with…")
    page.locator(f'tr[data-branch="{BRANCH}"]').wait_for()
    shot(page, "compare-choose")
    page.click(f'tr[data-branch="{BRANCH}"] a.button')
    page.wait_for_url(re.compile(r"/compare/\?branch="))

    deleted = page.locator("#rows-tasks-deleted table")
    deleted.wait_for()
    page.locator("#rows-messages-deleted table").wait_for()
    page.locator("#rows-conversations-deleted table").wait_for()
    keys = page.locator("#rows-tasks-deleted tr[data-key]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)"
    )
    assert keys == [f"id = {ticket['tasks'][0]}", f"id = {ticket['tasks'][2]}"]
    assert "Ticket task 1" in deleted.inner_text() and "Ticket task 3" in deleted.inner_text()
    assert page.locator("#rows-messages-deleted tr[data-key]").count() == 3
    assert page.locator("#rows-conversations-deleted tr[data-key]").count() == 1
    assert page.locator("#diff-tasks .diff-kind").count() == 1  # nothing added or changed
    assert page.locator("#diff-users").count() == 0  # the user's own row is unchanged
    shot(page, "compare-differences")

    # 4. Put them back: the two tasks one by one, the conversation and its messages whole.
    for box in page.locator("#rows-tasks-deleted input[name=row]").all():
        box.check()
    page.check("#diff-conversations input[name=table]")
    page.check("#diff-messages input[name=table]")
    page.click("text=Review the restore of the selected rows…")
    page.locator("#confirm").wait_for()
    statements = page.locator("pre.sql").all_inner_texts()
    tables = [re.match(r"INSERT INTO public\.(\w+)", s).group(1) for s in statements]
    assert tables == ["tasks", "tasks", "conversations", "messages", "messages", "messages"]
    shot(page, "restore-preview")
    assert page.input_value("input[name=reason]") == "SUP-4242 my tasks and a chat vanished"
    page.click("text=Restore these rows")
    page.locator(".outcome").wait_for()
    assert page.locator(".outcome").get_attribute("data-applied") == "6"
    assert page.locator(".outcome").get_attribute("data-skipped") == "0"
    shot(page, "restore-done")

    # 5. The rows are back, the messages with their conversation.
    page.click("text=The user's page")
    page.locator("#table-tasks").wait_for()
    assert "4 rows" in page.locator("#table-tasks .badge").first.inner_text()
    assert "3 rows" in page.locator("#table-messages .badge").first.inner_text()
    assert "Chat line 3" in page.locator("#table-messages").inner_text()
    # 6. The audit trail tells it all.
    page.goto(f"/audit/?subject={SUBJECT}")
    actions = page.locator("table.audit-events td .badge").all_inner_texts()
    for expected in ("user.view", "user.compare", "write.intent", "write.outcome"):
        assert expected in actions
    intent = AuditEvent.objects.get(action="write.intent", subject_user=SUBJECT)
    page.goto(f"/audit/{intent.pk}/")
    page.locator(".card.write").wait_for()
    assert page.locator('.image[data-state="added"]').count() == 6
    assert page.locator(".card.write").get_attribute("data-status") == "applied"
    shot(page, "audit-event")
