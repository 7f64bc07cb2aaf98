"""The support view in a real browser: find a user, give a reason, see their tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.audit.models import AuditEvent
from tests.e2e.conftest import application_user, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBJECT = "e2e_support_subject"


CONVERSATION = (
    "WITH c AS (INSERT INTO conversations (user_id) VALUES (%(subject)s) RETURNING id) "
    "INSERT INTO messages (user_id, conversation_id, role, content) "
    "SELECT %(subject)s, c.id, m.role, m.content FROM c, (VALUES "
    "('user', 'Where did my tasks go?'), ('assistant', 'They are all still here.')) "
    "AS m(role, content)"
)


@pytest.fixture
def end_user(settings) -> Iterator[str]:
    """One end-user of the application with 3 tasks and a conversation of 2 messages."""
    with application_user(
        settings,
        SUBJECT,
        "e2e.support@example.com",
        "Erin",
        "INSERT INTO tasks (user_id, title) "
        "SELECT %(subject)s, 'E2E task ' || g FROM generate_series(1, 3) AS g",
        CONVERSATION,
    ) as subject:
        yield subject


def test_find_give_a_reason_and_see_the_tables(page, operator_factory, end_user):
    support = operator_factory("sam-support", "support")
    log_in(page, support)
    page.goto("/users/")
    assert "detected: users" in page.locator(".finder-help").inner_text()
    page.fill("input[name=q]", "E2E.Support@Example.com")  # email, typed in another case
    page.keyboard.press("Enter")

    # Searching shows end-users' rows: the whole page goes to the reason form first, then
    # back to the search, which opens the one user found.
    page.wait_for_url("**/users/reason/**")
    assert page.locator(".users-found").count() == 0
    page.fill("input[name=reason]", "SUP-2001 user says tasks vanished")
    page.click("text=Show the data")
    page.wait_for_url(f"**/users/u/{end_user}/")

    # The reason gate for this end-user: no data until a reason is given (the last one is
    # offered).
    assert page.locator("input[name=reason]").is_visible()
    assert page.locator("input[name=reason]").input_value() == "SUP-2001 user says tasks vanished"
    assert page.locator(".table-card").count() == 0
    page.click("text=Show the data")

    page.locator("#table-tasks").wait_for()
    assert "3 rows" in page.locator("#table-tasks .badge").first.inner_text()
    assert "E2E task 2" in page.locator("#table-tasks").inner_text()
    assert "2 rows" in page.locator("#table-messages .badge").first.inner_text()
    assert "SUP-2001 user says tasks vanished" in page.locator(".reason-banner").inner_text()
    assert "e2e.support@example.com" in page.locator(".profile").inner_text()

    # A table card refreshes in place (htmx partial), still audited.
    with page.expect_response(lambda response: "table=tasks" in response.url):
        page.click("#table-tasks >> text=Refresh")
    page.locator("#table-tasks").wait_for()
    assert "3 rows" in page.locator("#table-tasks .badge").first.inner_text()

    search = AuditEvent.objects.get(action="user.search")
    assert search.reason == "SUP-2001 user says tasks vanished"
    assert search.detail["matches"] == [end_user]
    views = AuditEvent.objects.filter(action="user.view", subject_user=end_user)
    assert views.count() == 2
    assert {event.reason for event in views} == {"SUP-2001 user says tasks vanished"}
    assert views.filter(tables__contains=["tasks"]).count() == 2


def expire_reasons(page) -> None:
    """Move every reason of the browser's session an hour back (no sleeping)."""
    from datetime import UTC, datetime, timedelta
    from importlib import import_module

    from django.conf import settings

    from dashboard.users import gate

    session_store = import_module(settings.SESSION_ENGINE).SessionStore  # the console's store
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    session = session_store(session_key=cookie["value"])
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    session[gate.SESSION_KEY] = {
        slot: {**entry, "at": old} for slot, entry in session[gate.SESSION_KEY].items()
    }
    session.save()


def test_browsing_a_user_owned_table_asks_once_then_again_after_expiry(
    page, operator_factory, end_user
):
    support = operator_factory("sia-support", "support")
    log_in(page, support)
    page.goto("/data/tasks/?f.eq.user_id=" + end_user)
    page.wait_for_url("**/users/reason/**")
    assert page.locator("#listing").count() == 0
    page.fill("input[name=reason]", "SUP-3001 tasks list")
    page.click("text=Show the data")
    page.wait_for_url(f"**/data/tasks/?f.eq.user_id={end_user}")
    page.locator("#listing tbody tr").first.wait_for()
    assert "E2E task" in page.locator("#listing").inner_text()

    # Sorting swaps the list by htmx, with the same reason: not asked again.
    page.get_by_role("link", name="title", exact=True).click()
    page.wait_for_url("**o=title**")
    assert "E2E task" in page.locator("#listing").inner_text()

    # Once the reason has expired, the next htmx swap sends the whole page to the form, which
    # comes back to the page the operator was on.
    on = page.url
    expire_reasons(page)
    page.get_by_role("link", name="title").first.click()
    page.wait_for_url("**/users/reason/**")
    page.fill("input[name=reason]", "SUP-3002 tasks list again")
    page.click("text=Show the data")
    page.wait_for_url(on)
    page.locator("#listing tbody tr").first.wait_for()

    lists = AuditEvent.objects.filter(action="data.list", subject_user=end_user)
    assert list(lists.order_by("pk").values_list("reason", flat=True)) == [
        "SUP-3001 tasks list",
        "SUP-3001 tasks list",
        "SUP-3002 tasks list again",
    ]
