"""The audit page: who sees what, filters, keyset paging, partials and a safe CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from dashboard.audit.filters import PAGE_SIZE, known_actions
from dashboard.audit.models import AuditEvent
from tests.dashboard.target_statements import page_statements


def add_event(operator, action="user.view", subject="acc_alice", reason="SUP-1", **extra):
    return AuditEvent.objects.create(
        operator=operator,
        operator_name=operator.username,
        action=action,
        subject_user=subject,
        tables=extra.pop("tables", ["ust_orders"]),
        reason=reason,
        client_address="198.51.100.7",
        detail=extra,
    )


def text(response) -> str:
    return response.content.decode()


def test_viewers_are_refused(viewer_client):
    assert viewer_client.get("/audit/").status_code == 403
    assert viewer_client.get("/audit/export.csv").status_code == 403


def test_admins_see_everyone_support_only_themselves(
    admin_client, support_client, support_user, operator_factory
):
    other = operator_factory("olga-support", "support")
    add_event(support_user, subject="acc_mine")
    add_event(other, subject="acc_theirs")
    everything = text(admin_client.get("/audit/"))
    assert "acc_mine" in everything and "acc_theirs" in everything
    own = text(support_client.get("/audit/"))
    assert "acc_mine" in own and "acc_theirs" not in own
    # The operator filter is an administrator's: a support engineer cannot widen the view.
    assert "acc_theirs" not in text(support_client.get("/audit/?operator=olga-support"))


def test_filters_by_operator_subject_and_action(admin_client, support_user, operator_factory):
    other = operator_factory("olga-support", "support")
    add_event(support_user, action="user.view", subject="acc_a")
    add_event(support_user, action="user.export", subject="acc_b")
    add_event(other, action="user.view", subject="acc_c")
    page = text(admin_client.get("/audit/?operator=OLGA-support"))
    assert "acc_c" in page and "acc_a" not in page
    page = text(admin_client.get("/audit/?subject=acc_b"))
    assert "acc_b" in page and "acc_a" not in page
    page = text(admin_client.get("/audit/?action=user.view"))
    assert "acc_a" in page and "acc_c" in page and "acc_b" not in page


def test_filters_by_time_range(admin_client, support_user):
    add_event(support_user, subject="acc_before")
    middle = timezone.now()
    add_event(support_user, subject="acc_after")
    since = admin_client.get("/audit/", {"since": middle.isoformat()})
    assert "acc_after" in text(since) and "acc_before" not in text(since)
    until = admin_client.get("/audit/", {"until": middle.isoformat()})
    assert "acc_before" in text(until) and "acc_after" not in text(until)


def test_a_backwards_range_is_a_form_error(admin_client):
    now = timezone.now()
    response = admin_client.get(
        "/audit/", {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    )
    assert response.status_code == 200
    assert "“From” must be before “Until”." in text(response)


def test_keyset_pages_cover_everything_once(admin_client, support_user, htmx_headers):
    created = [add_event(support_user, subject=f"acc_{n:03d}").pk for n in range(PAGE_SIZE + 7)]
    first = admin_client.get("/audit/")
    page = first.context["page"]
    assert len(page.events) == PAGE_SIZE
    assert page.older_url and not page.newer_url
    partial = admin_client.get("/audit/" + page.older_url, **htmx_headers)
    assert "<html" not in text(partial)
    assert "Older →" not in text(partial) and "← Newer" in text(partial)
    second_page = admin_client.get("/audit/" + page.older_url).context["page"]
    assert len(second_page.events) == 7
    seen = [e.pk for e in page.events] + [e.pk for e in second_page.events]
    assert seen == sorted(created, reverse=True)
    assert second_page.newer_url and not second_page.older_url
    back = admin_client.get("/audit/" + second_page.newer_url).context["page"]
    assert [e.pk for e in back.events] == [e.pk for e in page.events]


def test_paging_keeps_the_filters(admin_client, support_user):
    for _ in range(PAGE_SIZE + 1):
        add_event(support_user, subject="acc_kept", action="user.view")
    add_event(support_user, subject="acc_other", action="user.export")
    page = admin_client.get("/audit/?action=user.view").context["page"]
    assert "action=user.view" in page.older_url
    rest = admin_client.get("/audit/" + page.older_url).context["page"]
    assert [e.subject_user for e in rest.events] == ["acc_kept"]


def test_events_partial(admin_client, support_user, htmx_headers):
    add_event(support_user)
    response = admin_client.get("/audit/?subject=acc_alice", **htmx_headers)
    assert text(response).strip().startswith('<section id="events">')


def read_csv(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_is_streamed_filtered_safe_and_audited(admin_client, admin_user, support_user):
    add_event(support_user, subject="acc_x", reason='=HYPERLINK("http://evil.example","x")')
    add_event(support_user, subject="acc_y", reason="-2+3")
    add_event(support_user, subject="acc_z", reason="@SUM(A1)")
    response = admin_client.get("/audit/export.csv?action=user.view")
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    reasons = {row["subject_user"]: row["reason"] for row in rows}
    assert reasons == {
        "acc_x": '\'=HYPERLINK("http://evil.example","x")',
        "acc_y": "'-2+3",
        "acc_z": "'@SUM(A1)",
    }
    assert rows[0]["operator"] == "sue-support"
    assert rows[0]["tables"] == "ust_orders"
    exported = AuditEvent.objects.get(action="audit.export")
    assert exported.operator_name == admin_user.username
    assert exported.detail["filters"] == {"action": "user.view"}


def test_support_csv_holds_only_their_events(support_client, support_user, operator_factory):
    add_event(support_user, subject="acc_mine")
    add_event(operator_factory("olga-support", "support"), subject="acc_theirs")
    subjects = {row["subject_user"] for row in read_csv(support_client.get("/audit/export.csv"))}
    assert "acc_mine" in subjects and "acc_theirs" not in subjects


def test_csv_holds_no_rows_of_a_row_change(admin_client, admin_user):
    """A row change's events carry the rows before and after and its statements, with every
    value: the event's own page shows them behind the reason for that end-user (and records
    the look); the export, like the list, gives only how many there are."""
    row = {"table": "ust_orders", "key": [["id", "7"]], "values": {"note": "alice's-secret"}}
    statement = "UPDATE public.ust_orders SET note = 'alice''s-secret' WHERE id = '7'::bigint"
    add_event(
        admin_user,
        action="write.intent",
        write_id="w1",
        statements=[statement],
        before=[row],
        changes=[{"table": "ust_orders", "action": "update", "key": [["id", "7"]]}],
    )
    add_event(admin_user, action="write.outcome", write_id="w1", after=[row, row], applied=[0])
    rows = read_csv(admin_client.get("/audit/export.csv"))
    details = {row["action"]: json.loads(row["detail"]) for row in rows}
    assert "alice's-secret" not in json.dumps(details)
    assert details["write.intent"]["before"] == "1 (on the event's page)"
    assert details["write.intent"]["statements"] == "1 (on the event's page)"
    assert details["write.outcome"]["after"] == "2 (on the event's page)"
    assert details["write.intent"]["changes"][0]["key"] == [["id", "7"]]  # the rest stays
    assert "alice's-secret" not in text(admin_client.get("/audit/"))


def test_no_edit_or_delete_routes_exist(admin_client, support_user):
    event = add_event(support_user)
    for method in ("post", "put", "delete"):
        response = getattr(admin_client, method)(f"/audit/?id={event.pk}")
        assert response.status_code == 405
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_csv_export_is_written_by_the_database_cell_by_cell(admin_client, support_user):
    event = AuditEvent.objects.create(
        operator=support_user,
        operator_name=support_user.username,
        action="data.list",
        subject_user="-acc,1",
        tables=["ust_orders", "ust_notes"],
        reason='said "hi"\nthen =SUM(A1)',
        client_address=None,
        detail={"rows": {"ust_orders": {"count": 2}}, "ünï": [1, 2.5]},
    )
    event.refresh_from_db()
    body = b"".join(admin_client.get("/audit/export.csv?action=data.list").streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == [
        "at", "operator", "action", "subject_user", "tables", "reason", "client_address", "detail"
    ]  # fmt: skip
    at, operator, action, subject, tables, reason, address, detail = rows[1]
    assert at == event.at.astimezone(UTC).isoformat(timespec="microseconds")
    assert (operator, action, subject, tables) == (
        support_user.username,
        "data.list",
        "'-acc,1",
        "ust_orders ust_notes",
    )
    assert reason == 'said "hi"\nthen =SUM(A1)'
    assert address == ""
    assert json.loads(detail) == {"rows": {"ust_orders": {"count": 2}}, "ünï": [1, 2.5]}


def test_known_actions_are_the_distinct_actions_sorted(support_user):
    for action in ("user.view", "data.list", "user.view", "audit.export", "data.list"):
        add_event(support_user, action=action)
    assert known_actions() == ["audit.export", "data.list", "user.view"]


def _views_until_verified(client, url: str = "/audit/") -> list[int]:
    """View `url` until the page says the whole chain holds; return each view's statements to
    the console's database (the target gets none)."""
    counts: list[int] = []
    page = ""
    while not counts or "Newer events are verified over the next views" in page:
        assert len(counts) < 20, counts
        with page_statements() as (target, console):
            page = text(client.get(url))
        assert "The chain holds" in page and not target.sent
        counts.append(len(console))
    return counts


@pytest.mark.django_db(transaction=True)  # autocommit, as the console runs: BEGIN/COMMIT count
def test_the_audit_page_sends_at_most_15_statements_however_long_the_trail(
    admin_client, support_user, settings
):
    settings.AUDIT_VERIFY_PAGE_EVENTS = 20  # events a view verifies past its checkpoint (500)
    views: dict[int, list[int]] = {}
    steady: dict[int, list[int]] = {}
    for total in (50, 150):
        while AuditEvent.objects.count() < total:
            add_event(support_user, subject=f"acc_{AuditEvent.objects.count()}")
        views[total] = _views_until_verified(admin_client)
        steady[total] = [
            _views_until_verified(admin_client, url)[-1]
            for url in ("/audit/", "/audit/?subject=acc_7", "/audit/?action=user.view")
        ]
    # With nothing new to verify: the session, the operator, the operator's groups, the
    # actions (one statement), the page of events, the audit table's protection, the last full
    # verification and the checkpoint (one statement each), the checkpoint's event, and the
    # events after it: 10. A view that verifies a full batch past its checkpoint also asks
    # whether more are left, writes the new checkpoint and drops the old one (BEGIN, DELETE,
    # COMMIT): 15, as README's schema-scale table quotes for a trail of a million events.
    assert steady == {50: [10, 10, 10], 150: [10, 10, 10]}
    assert max(views[50]) == max(views[150]) == 15, views
    assert len(views[150]) > len(views[50])  # more views verify a longer trail, each bounded
