"""Comparing one end-user's rows now with a branch: counts, pages, bounds (COMPARE_MAX_ROWS),
masking."""

from __future__ import annotations

import psycopg
import pytest

from dashboard.data.cursor import BadCursor
from dashboard.target import run_branch_read, run_read
from dashboard.users.compare import compare, diff_page, read_token
from dashboard.users.ownership import ownership_map
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


def readers(world: World):
    url = world.provider.migration_url(world.branch_id)
    return (lambda work: run_read(work), lambda work: run_branch_read(url, work))


def counts(comparison) -> dict[str, dict[str, int]]:
    return {item.table: dict(item.counts) for item in comparison.tables if item.differs}


def test_an_untouched_user_has_no_difference(tm):
    now, then = readers(tm)
    comparison = compare(ownership_map(), ALICE, ALICE, now, then)
    assert counts(comparison) == {}
    assert {"users", "tasks", "conversations", "messages", "tm_notes"} <= {
        item.table for item in comparison.tables
    }
    assert all(not item.problem for item in comparison.tables)


def test_deleted_added_and_changed_rows_are_counted_per_table_for_this_user_only(tm):
    target("DELETE FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS[:2]),))
    target("DELETE FROM conversations WHERE id = %s", (ALICE_CONVERSATION,))  # and 3 messages
    target("UPDATE tasks SET title = 'Renamed', completed = true WHERE id = %s", (ALICE_TASKS[2],))
    target("INSERT INTO tasks (user_id, title) VALUES (%s, 'New one')", (ALICE,))
    target("DELETE FROM tasks WHERE id = %s", (BOB_TASKS[0],))  # someone else's: not Alice's
    now, then = readers(tm)

    comparison = compare(ownership_map(), ALICE, ALICE, now, then)

    assert counts(comparison) == {
        "tasks": {"deleted": 2, "added": 1, "changed": 1},
        "conversations": {"deleted": 1, "added": 0, "changed": 0},
        "messages": {"deleted": 3, "added": 0, "changed": 0},
    }
    assert comparison.unchanged == ["users", "tm_labels", "tm_notes"]


def test_rows_are_paged_by_key_with_the_changed_columns_side_by_side(tm):
    target("DELETE FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS[:3]),))
    target("UPDATE tasks SET title = 'Renamed' WHERE id = %s", (ALICE_TASKS[3],))
    owners = ownership_map()
    now, then = readers(tm)
    item = next(i for i in compare(owners, ALICE, ALICE, now, then).tables if i.table == "tasks")

    first = diff_page(owners, item, "deleted", ALICE, now, then, page_rows=2)
    assert [dict(row.key)["id"] for row in first.rows] == [str(i) for i in ALICE_TASKS[:2]]
    title = next(c for c in first.rows[0].cells if c.column == "title")
    assert title.branch == "Alice task 1" and title.now == "" and title.kind == "value"
    assert first.next_cursor
    second = diff_page(owners, item, "deleted", ALICE, now, then, first.next_cursor, page_rows=2)
    assert [dict(row.key)["id"] for row in second.rows] == [str(ALICE_TASKS[2])]
    assert not second.next_cursor

    changed = diff_page(owners, item, "changed", ALICE, now, then)
    [row] = changed.rows
    assert row.changed_columns == ["title"]
    cell = next(c for c in row.cells if c.column == "title")
    assert (cell.branch, cell.now) == ("Alice task 4", "Renamed")
    token = read_token(row.token)
    assert token.table == "tasks" and token.now and token.branch and token.now != token.branch

    with pytest.raises(BadCursor):
        diff_page(owners, item, "deleted", ALICE, now, then, first.next_cursor + "x")
    with pytest.raises(BadCursor):  # a cursor of another kind of rows
        diff_page(owners, item, "changed", ALICE, now, then, first.next_cursor)


def test_masked_columns_stay_masked_when_they_differ(tm):
    target("UPDATE tm_notes SET api_token = 'sk_live_new_secret' WHERE user_id = %s", (ALICE,))
    owners = ownership_map()
    now, then = readers(tm)
    item = next(i for i in compare(owners, ALICE, ALICE, now, then).tables if i.table == "tm_notes")
    assert item.counts["changed"] == 1
    [row] = diff_page(owners, item, "changed", ALICE, now, then).rows
    cell = next(c for c in row.cells if c.column == "api_token")
    assert cell.changed and cell.kind == "masked"
    assert "secret" not in cell.branch + cell.now


def test_a_side_above_the_row_limit_is_compared_up_to_the_last_key_both_read(tm):
    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[3],))
    target("UPDATE tasks SET title = 'x' WHERE id = %s", (ALICE_TASKS[0],))
    owners = ownership_map()
    now, then = readers(tm)
    comparison = compare(owners, ALICE, ALICE, now, then, only="tasks", max_rows=2)
    [item] = comparison.tables
    # Both sides were cut after two keys: the change of the first is seen, the deletion of the
    # fourth lies beyond what was compared, so it is not counted (and the table says so).
    assert item.capped and item.counts == {"deleted": 0, "added": 0, "changed": 1}
    page = diff_page(owners, item, "deleted", ALICE, now, then, max_rows=2)
    assert page.rows == [] and page.next_cursor  # go on after the last key compared
    later = diff_page(owners, item, "deleted", ALICE, now, then, page.next_cursor, max_rows=2)
    assert [dict(row.key)["id"] for row in later.rows] == [str(ALICE_TASKS[3])]


def test_the_row_limit_is_the_compare_max_rows_setting(tm, settings):
    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[3],))
    target("UPDATE tasks SET title = 'x' WHERE id = %s", (ALICE_TASKS[0],))
    owners = ownership_map()
    now, then = readers(tm)
    [whole] = compare(owners, ALICE, ALICE, now, then, only="tasks").tables
    assert not whole.capped and whole.counts == {"deleted": 1, "added": 0, "changed": 1}

    settings.COMPARE_MAX_ROWS = 2  # no max_rows argument: the setting alone cuts each side
    [item] = compare(owners, ALICE, ALICE, now, then, only="tasks").tables
    assert item.capped and item.counts == {"deleted": 0, "added": 0, "changed": 1}
    page = diff_page(owners, item, "deleted", ALICE, now, then)
    assert page.rows == [] and page.next_cursor
    later = diff_page(owners, item, "deleted", ALICE, now, then, page.next_cursor)
    assert [dict(row.key)["id"] for row in later.rows] == [str(ALICE_TASKS[3])]


def test_a_table_that_runs_out_of_time_says_so_and_the_others_still_count(tm, settings):
    target("DELETE FROM messages WHERE id = %s", (ALICE_MESSAGES[0],))
    target("DELETE FROM tasks WHERE id = %s", (ALICE_TASKS[0],))
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 200}
    owners = ownership_map()
    now, then = readers(tm)
    with psycopg.connect(owner_url()) as blocker:
        blocker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")  # a migration, say
        comparison = compare(owners, ALICE, ALICE, now, then)
        blocker.rollback()
    tasks = next(i for i in comparison.tables if i.table == "tasks")
    messages = next(i for i in comparison.tables if i.table == "messages")
    assert tasks.timed_out and tasks.differs
    assert messages.counts["deleted"] == 1 and not messages.timed_out
    assert int(settings.COMPARE_TIMEOUT_MS) > 200  # it was the lock, not the statement budget
