"""The write door: guards, row-level security, the ownership predicate, the audit before and
after, and every refusal that leaves the target untouched."""

from __future__ import annotations

import pytest
from django.db import connection

from dashboard.audit.models import AuditEvent
from dashboard.target_write import (
    INTENT,
    OUTCOME,
    RowChange,
    WritePlan,
    WriteRefused,
    WritesOff,
    WriteUnavailable,
    apply,
    preview,
)
from dashboard.users.ownership import ownership_map
from tests.dashboard.app_rows import ALICE, BOB, admin_request, fingerprint, target

pytestmark = pytest.mark.django_db(transaction=True)

TASK_COLUMNS = (
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "priority",
    "tags",
    "due_date",
    "recurrence",
    "created_at",
    "updated_at",
)


def title_change(task: int, title: str, guard: str, subject: str = ALICE) -> WritePlan:
    change = RowChange(
        "tasks",
        "update",
        key=(("id", str(task)),),
        values=(("title", title),),
        guard=guard,
        guard_columns=TASK_COLUMNS,
    )
    return WritePlan("edit", subject, (change,))


def run(plan: WritePlan, user, reason: str = "SUP-1 test"):
    owners = ownership_map()
    shown = preview(plan, owners)
    return shown, apply(admin_request(user), plan, owners, reason, shown.digest)


def title_of(task: int) -> str:
    return target("SELECT title FROM tasks WHERE id = %s", (task,))[0][0]


def test_a_guarded_update_applies_and_is_audited_before_and_after(app_rows, admin_user):
    task = app_rows.alice_tasks[0]
    shown, outcome = run(
        title_change(task, "It's done", fingerprint("tasks", f"id = {task}")), admin_user
    )

    assert outcome.ok and outcome.applied == [0] and not outcome.skipped
    assert title_of(task) == "It's done"
    statement = shown.statements[0].sql
    assert statement.startswith(
        "UPDATE public.tasks\nSET title = 'It''s done'::character varying(200)"
    )
    assert "AND md5(ARRAY[id::text, user_id::text," in statement
    # tasks has row-level security for the write role: no ownership predicate, the policy holds.
    assert shown.rls_tables == ["tasks"] and "user_id = 'tw_alice'" not in statement
    intent, result = AuditEvent.objects.order_by("id")
    assert (intent.action, result.action) == (INTENT, OUTCOME)
    assert intent.reason == "SUP-1 test" and intent.subject_user == ALICE
    assert intent.detail["statements"] == [statement]
    assert intent.detail["role"] == "todo_app"
    [before] = intent.detail["before"]
    assert before["values"]["title"] == "Task 1" and before["key"] == [["id", str(task)]]
    [after] = result.detail["after"]
    assert after["values"]["title"] == "It's done"
    assert result.detail["status"] == "applied" and result.detail["intent"] == intent.pk


def test_an_update_lost_to_a_concurrent_change_is_skipped_never_forced(app_rows, admin_user):
    task = app_rows.alice_tasks[0]
    seen = fingerprint("tasks", f"id = {task}")
    plan = title_change(task, "Mine", seen)
    owners = ownership_map()
    shown = preview(plan, owners)
    target("UPDATE tasks SET completed = true WHERE id = %s", (task,))  # someone else, meanwhile

    outcome = apply(admin_request(admin_user), plan, owners, "SUP-2", shown.digest)

    assert outcome.ok and outcome.applied == []
    assert outcome.skipped == [(0, "the row changed since it was shown (it was not overwritten)")]
    assert title_of(task) == "Task 1"
    result = AuditEvent.objects.get(action=OUTCOME)
    assert result.detail["skipped"][0]["statement"] == 0


def test_rls_keeps_a_plan_for_alice_off_bobs_rows(app_rows, admin_user):
    bob_task = app_rows.bob_tasks[0]
    # Even with Bob's real fingerprint, bound to Alice the statement finds no row of his.
    plan = title_change(bob_task, "hijacked", fingerprint("tasks", f"id = {bob_task}"))
    _, outcome = run(plan, admin_user)
    assert outcome.skipped and outcome.skipped[0][1].startswith("the row is no longer there")
    assert title_of(bob_task) == "Task 1"
    assert AuditEvent.objects.get(action=INTENT).detail["before"] == []  # Bob's row is unseen

    # An insert written for Bob while bound to Alice fails the policy: nothing at all is kept,
    # not even the valid change before it.
    alice_task = app_rows.alice_tasks[1]
    plan = WritePlan(
        "restore",
        ALICE,
        (
            title_change(alice_task, "fine", fingerprint("tasks", f"id = {alice_task}")).changes[0],
            RowChange("tasks", "insert", values=(("user_id", BOB), ("title", "planted"))),
        ),
    )
    _, outcome = run(plan, admin_user)
    assert outcome.error is not None and outcome.error.sqlstate == "42501"
    assert outcome.error.statement == 1
    assert title_of(alice_task) == "Task 2"
    assert target("SELECT count(*) FROM tasks WHERE title = 'planted'") == [(0,)]
    assert (
        AuditEvent.objects.filter(action=OUTCOME).order_by("id").last().detail["status"] == "failed"
    )


def test_a_table_without_rls_gets_the_ownership_predicate(app_rows, admin_user):
    note = app_rows.bob_note
    change = RowChange(
        "tw_notes",
        "update",
        key=(("id", str(note)),),
        values=(("body", "hijacked"),),
        guard=fingerprint("tw_notes", f"id = {note}"),
        guard_columns=("id", "user_id", "body"),
    )
    shown, outcome = run(WritePlan("edit", ALICE, (change,)), admin_user)
    assert shown.predicate_tables == ["tw_notes"]
    assert "  AND user_id = 'tw_alice'" in shown.statements[0].sql
    assert outcome.skipped and target("SELECT body FROM tw_notes WHERE id = %s", (note,)) == [
        ("note",)
    ]

    insert = RowChange("tw_notes", "insert", values=(("user_id", BOB), ("body", "planted")))
    shown, outcome = run(WritePlan("add", ALICE, (insert,)), admin_user)
    assert "WHERE 'tw_bob'::text = 'tw_alice'" in shown.statements[0].sql
    assert outcome.skipped == [(0, "the row would not belong to this end-user")]
    assert target("SELECT count(*) FROM tw_notes WHERE body = 'planted'") == [(0,)]


def test_values_round_trip_exactly_whatever_their_quotes_and_backslashes(app_rows, admin_user):
    message = app_rows.alice_messages[1]
    value = "Quote ' backslash \\ percent % colon :00 newline\n"
    columns = ("id", "user_id", "conversation_id", "role", "content", "created_at")
    change = RowChange(
        "messages",
        "update",
        key=(("id", str(message)),),
        values=(("content", value),),
        guard=fingerprint("messages", f"id = {message}"),
        guard_columns=columns,
    )
    _, outcome = run(WritePlan("edit", ALICE, (change,)), admin_user)
    assert outcome.applied == [0]
    assert target("SELECT content FROM messages WHERE id = %s", (message,)) == [(value,)]


def test_a_role_that_bypasses_rls_or_owns_tables_is_refused(app_rows, admin_user, settings):
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": "APP_DIRECT_URL"}
    task = app_rows.alice_tasks[0]
    with pytest.raises(WriteRefused, match="owns tables of schema public"):
        preview(title_change(task, "x", "f"), ownership_map())


def test_writes_are_off_unless_enabled(app_rows, admin_user, settings):
    settings.DATA_WRITES_ENABLED = False
    with pytest.raises(WritesOff, match="DATA_WRITES_ENABLED"):
        preview(title_change(app_rows.alice_tasks[0], "x", "f"), ownership_map())


def test_statements_that_changed_since_the_preview_are_refused(app_rows, admin_user):
    task = app_rows.alice_tasks[0]
    plan = title_change(task, "x", fingerprint("tasks", f"id = {task}"))
    other = title_change(task, "y", fingerprint("tasks", f"id = {task}"))
    shown = preview(plan, ownership_map())
    with pytest.raises(WriteRefused, match="no longer the ones shown"):
        apply(admin_request(admin_user), other, ownership_map(), "SUP-3", shown.digest)
    assert title_of(task) == "Task 1" and not AuditEvent.objects.exists()


def test_no_write_while_the_consoles_database_is_down(app_rows, admin_user):
    task = app_rows.alice_tasks[0]
    plan = title_change(task, "never", fingerprint("tasks", f"id = {task}"))
    owners = ownership_map()
    shown = preview(plan, owners)
    request = admin_request(admin_user)
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there: the console's DB is gone
    try:
        with pytest.raises(WriteUnavailable, match="nothing was written"):
            apply(request, plan, owners, "SUP-4", shown.digest)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert title_of(task) == "Task 1"
    assert not AuditEvent.objects.exists()
