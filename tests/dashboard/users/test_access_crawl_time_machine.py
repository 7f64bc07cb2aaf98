"""The access crawl in the time machine's world: the comparison, row changes and a change's
event look at Alice's rows only with a reason, and each look writes exactly its audit event.

The routes it covers are those classified TIME_MACHINE in crawl_world.ROUTES; the shop's crawl
and the routes that show no end-user's rows are in test_access_crawl.py.
"""

from __future__ import annotations

from django.test import Client

from dashboard.audit.models import AuditEvent
from dashboard.target_write import INTENT
from tests.conftest import _client_for
from tests.dashboard.changes.test_row_edits import confirm, edit_url, open_form, post
from tests.dashboard.tm_world import ALICE, ALICE_TASKS, World, target
from tests.dashboard.users.crawl_world import TIME_MACHINE, Look, crawled_in, event_of

TM_TEXT = ("Alice task", "tm_alice@example.com", "My tasks are gone", "Called support")
TM_REASON = "SUP-300 alice's tasks vanished"
EDITED = ALICE_TASKS[2]
KEPT = ALICE_TASKS[3]


def add_form(client: Client) -> dict[str, str]:
    """Return a filled-in form adding a task for Alice (the defaults left to the database)."""
    data = open_form(client, f"/users/u/{ALICE}/rows/tasks/add/")
    data.update({"v.title": "Added by support", "default.id": "1", "default.created_at": "1"})
    data.update({"default.updated_at": "1", "default.completed": "1", "default.priority": "1"})
    data.update({"default.tags": "1", "null.due_date": "1", "null.description": "1"})
    data.update({"null.recurrence": "1"})
    data.pop("step", None)
    return data


def a_change_and_a_loss(operator_factory) -> AuditEvent:
    """Make the world of the ticket: another admin edited a task of Alice's (its audited
    write is returned), and two of her tasks were deleted since the branch was made."""
    other = _client_for(operator_factory("ann-admin", "admin"))
    assert other.post(f"/users/u/{ALICE}/", {"reason": "SUP-299 fix a title"}).status_code == 302
    url = edit_url("tasks", EDITED)
    data = open_form(other, url)
    data["v.title"] = "Changed by support"
    assert post(other, url, confirm(other, url, data), "apply").status_code == 200
    target("DELETE FROM tasks WHERE id = ANY(%s)", (list(ALICE_TASKS[:2]),))
    return AuditEvent.objects.get(action=INTENT)


OWNED_SQL = """
WITH RECURSIVE owned (rel) AS (
    SELECT 'users'::regclass
    UNION
    SELECT c.conrelid::regclass
    FROM pg_constraint AS c
    JOIN owned AS o ON c.confrelid = o.rel
    WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
)
SELECT c.relname FROM owned JOIN pg_class AS c ON c.oid = owned.rel ORDER BY 1
"""


def owned_tables() -> list[str]:
    """Return the tables of the time machine's target with a foreign-key path to its users."""
    return [name for (name,) in target(OWNED_SQL)]


def time_machine_looks(world: World, intent: AuditEvent, add: dict[str, str]) -> list[Look]:
    """Return the admin's looks at Alice's rows in the comparison, row changes and events."""
    for_alice = {"reason": TM_REASON, "subject": ALICE, "operator": "ada-admin"}
    branch = {"branch_id": world.branch_id, "branch_name": world.branch_name}
    compare = f"/users/u/{ALICE}/compare/?branch={world.branch_id}"
    deleted = [{"id": str(key)} for key in ALICE_TASKS[:2]]
    counts = {"deleted": 2, "added": 0, "changed": 1, "capped": False, "timed_out": False}

    def preview(kind: str, keys: list[dict], count: int | None = None) -> dict:
        """The look a change's preview is: its SQL carries the rows' values."""
        rows = {"count": len(keys) if count is None else count, "keys": keys}
        return {
            **for_alice,
            "action": "user.change_preview",
            "tables": ["tasks"],
            "detail": {"kind": kind, "rows": rows},
        }

    row = f"/users/u/{ALICE}/rows/tasks"
    return [
        Look(
            compare,
            "full",
            {
                **for_alice,
                "action": "user.compare",
                "tables": owned_tables(),
                "detail": {**branch, "counts": {"tasks": counts}},
            },
        ),
        Look(
            compare + "&table=tasks&kind=deleted",
            "htmx",
            {
                **for_alice,
                "action": "user.compare",
                "tables": ["tasks"],
                "detail": {**branch, "kind": "deleted", "rows": {"count": 2, "keys": deleted}},
            },
        ),
        Look(
            f"/users/u/{ALICE}/compare/restore/?branch={world.branch_id}",
            "full",
            preview("restore", [*deleted, {"id": str(EDITED)}]),
            "POST",
            {"table": "tasks", "step": "preview"},
        ),
        Look(
            f"{row}/edit/?pk.id={KEPT}",
            "full",
            {
                **for_alice,
                "action": "user.change_form",
                "tables": ["tasks"],
                "detail": {"rows": {"keys": [{"id": str(KEPT)}]}},
            },
        ),
        Look(f"{row}/add/", "full", preview("add", [], 1), "POST", {**add, "step": "preview"}),
        Look(f"{row}/delete/?pk.id={KEPT}", "full", preview("delete", [{"id": str(KEPT)}])),
        Look(
            f"/audit/{intent.pk}/",
            "full",
            {
                **for_alice,
                "action": "audit.view_change",
                "tables": ["tasks"],
                "detail": {"event": intent.pk, "write_id": intent.detail["write_id"]},
            },
        ),
        Look(f"/audit/{intent.pk}/revert/", "full", preview("revert", [{"id": str(EDITED)}])),
    ]


def test_the_time_machine_and_row_changes_look_only_with_a_reason_and_write_their_events(
    admin_client, tm: World, operator_factory
):
    intent = a_change_and_a_loss(operator_factory)
    assert admin_client.post(f"/users/u/{ALICE}/", {"reason": TM_REASON}).status_code == 302
    add = add_form(admin_client)
    looks = time_machine_looks(tm, intent, add)
    assert {look.route for look in looks} == crawled_in(TIME_MACHINE), "a route has no look"

    stranger = _client_for(operator_factory("abe-admin", "admin"))  # no reason given
    for look in looks:
        response, body, events = look.visit(stranger)
        assert events == [], look.url
        assert not [text for text in TM_TEXT if text in body], look.url
        if look.how == "htmx":
            assert response.status_code == 200 and not body, look.url
            where = response["HX-Redirect"]
        else:
            assert response.status_code == 302, look.url
            where = response["Location"]
        assert where.startswith("/users/reason/?subject=tm_alice"), (look.url, where)

    for look in looks:
        response, body, events = look.visit(admin_client)
        assert response.status_code == 200, (look.url, body[:600])
        assert [event_of(event) for event in events] == [look.expected], look.url
        assert "sk_live_secret_value" not in body, look.url  # tm_notes.api_token stays masked
