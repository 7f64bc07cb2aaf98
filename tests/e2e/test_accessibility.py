"""Every page and its main states in a real browser: axe-core finds no violation, in the light
and the dark colour scheme; no page is wider than a 390 px phone; no stack trace, no script or
Content Security Policy error, one current section in the navigation. The time machine's pages
(compare, restore, row changes, a change's audit event, a branch, a trial run) are walked in a
world of their own (tests/dashboard/tm_world.py). SCHEMADESK_SCREENSHOTS=<folder> saves each
state, light and dark.

One browser, one live server and one walk: each state is reached once, then checked three ways
(full axe rules in light; the colour rules again with the dark scheme emulated; the width and
the scroll boxes at 390 px). axe-core comes with `axe-playwright-python` (nothing is fetched).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from core.access import create_task, delete_task, update_task, user_session
from dashboard.audit.models import AuditEvent
from dashboard.jobs.models import JobRun
from dashboard.target_write import INTENT
from tests.dashboard.queries.conftest import queryid_of
from tests.dashboard.tm_world import (  # noqa: F401 (fixtures)
    ALICE,
    ALICE_CONVERSATION,
    ALICE_LABEL,
    ALICE_TASKS,
    on_tm_database,
    tm,
    tm_database,
    tm_world,
)
from tests.e2e.conftest import application_user, log_in, shot, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBJECT = "e2e_axe_subject"
REASON = "A11Y-1 every page passes axe"
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1360, "height": 900}
# Rules whose outcome depends on colours, or on the width of the screen.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
NARROW_RULES = ["scrollable-region-focusable", "target-size"]
STATEMENT = "SELECT id, title FROM tasks WHERE user_id = $1"


@dataclass
class State:
    name: str
    reach: Callable[[object], None]  # brings the page to the state
    section: bool = True  # a page of a section: exactly one current section in the navigation
    leave: Callable[[object], None] | None = None  # undoes what `reach` holds (after the check)


def visit(path: str) -> Callable[[object], None]:
    def reach(page) -> None:
        response = page.goto(path)
        assert response is not None and response.status < 500, (path, response and response.status)
        settle(page)

    return reach


def settle(page) -> None:
    """Wait until htmx's lazy parts have arrived (no request in flight; pages that poll are
    checked between two polls)."""
    page.wait_for_load_state("load")
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=3_000)


@pytest.fixture
def end_user(settings) -> Iterator[str]:
    """An end-user with 30 tasks (one in three with a long description, the others without one),
    a conversation, and a statement with a parameter for the statement page and its EXPLAIN."""
    with application_user(
        settings,
        SUBJECT,
        "axe.subject@example.com",
        "Ada",
        "INSERT INTO tasks (user_id, title, description, completed) "
        "SELECT %(subject)s, 'Axe task ' || g, "
        "CASE WHEN g %% 3 = 0 THEN repeat('long text ', 40) END, g %% 2 = 0 "
        "FROM generate_series(1, 30) AS g",
        "WITH c AS (INSERT INTO conversations (user_id) VALUES (%(subject)s) RETURNING id) "
        "INSERT INTO messages (user_id, conversation_id, role, content) "
        "SELECT %(subject)s, c.id, 'user', 'Hello' FROM c",
        STATEMENT.replace("$1", "%(subject)s"),
    ) as subject:
        yield subject


def explain_shown(queryid: int) -> Callable[[object], None]:
    def reach(page) -> None:
        visit(f"/queries/{queryid}/")(page)
        page.fill("#param-1", SUBJECT)
        page.click("button[value=plain]")
        page.locator("#plan table.q-plan-tree").wait_for()
        # The indicator is hidden again, not merely fading out: axe sees no half-transparent
        # "running…" (it did, now and then, under load).
        expect(page.locator("#explain .spinner")).to_be_hidden()

    return reach


class ExplainRunning:
    """The statement page while its EXPLAIN is in flight: the request is held by the browser
    until the state has been checked, so the indicator is shown for as long as axe looks."""

    def __init__(self, queryid: int) -> None:
        self.queryid = queryid
        self.held: list = []

    def reach(self, page) -> None:
        visit(f"/queries/{self.queryid}/")(page)
        page.route("**/explain/", self.hold)
        page.fill("#param-1", SUBJECT)
        page.click("button[value=plain]")
        page.locator("#explain-form.htmx-request").wait_for()
        spinner = page.locator("#explain .spinner")
        expect(spinner).to_be_visible()
        assert spinner.evaluate("e => getComputedStyle(e).opacity") == "1"

    def hold(self, route) -> None:
        self.held.append(route)  # answered in leave()

    def leave(self, page) -> None:
        assert len(self.held) == 1, self.held
        self.held.pop().continue_()
        page.locator("#plan table.q-plan-tree").wait_for()
        page.unroute("**/explain/")
        expect(page.locator("#explain .spinner")).to_be_hidden()


def filters_open(page) -> None:
    visit("/data/tasks/?f.eq.completed=true&o=-created_at&n=25")(page)
    assert page.locator("details.filter-panel[open]").count() == 1


def menus_open(page) -> None:
    visit("/data/tasks/?n=25")(page)
    page.click("details.columns-menu > summary")
    assert page.locator("details.columns-menu[open]").count() == 1


def user_gate(subject: str) -> Callable[[object], None]:
    return visit(f"/users/u/{subject}/")


def user_page(subject: str) -> Callable[[object], None]:
    def reach(page) -> None:
        visit(f"/users/u/{subject}/")(page)
        if page.locator("input[name=reason]").count():
            page.fill("input[name=reason]", REASON)
            page.click("text=Show the data")
        page.locator("#table-tasks").wait_for()
        settle(page)

    return reach


def running_job(user) -> Callable[[object], None]:
    run = JobRun.objects.create(
        kind="health_check",
        status=JobRun.Status.RUNNING,
        progress=[{"at": "2026-01-01T10:00:00+00:00", "message": "Connecting to the target"}],
        created_by=user,
    )
    return visit(f"/jobs/{run.pk}/")


def finished_job(user) -> Callable[[object], None]:
    from dashboard.home.services import target_probe

    run = JobRun.objects.create(
        kind="health_check",
        status=JobRun.Status.SUCCEEDED,
        progress=[{"at": "2026-01-01T10:00:00+00:00", "message": "Connecting to the target"}],
        result=target_probe(),
        created_by=user,
    )
    return visit(f"/jobs/{run.pk}/")


def generic_plan_shown(queryid: int) -> Callable[[object], None]:
    def reach(page) -> None:
        visit(f"/queries/{queryid}/")(page)
        page.click("button[value=generic]")
        page.locator("#plan table.q-plan-tree").wait_for()

    return reach


def health_with_trends(page) -> None:
    from dashboard.queries.health_history import capture_health_sample

    for _ in range(3):
        capture_health_sample()
    visit("/queries/health/")(page)
    assert page.locator("#trends svg.chart").count() >= 3


def as_viewer(viewer) -> Callable[[object], None]:
    def reach(page) -> None:
        log_in(page, viewer)
        response = page.goto("/users/")
        assert response is not None and response.status == 403
        settle(page)

    return reach


def axe_violations(page, options: dict[str, object]) -> list[dict]:
    """Return axe-core's violations on the page (axe is put in once per page load)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    return page.evaluate("options => axe.run(document, options).then(r => r.violations)", options)


def check(page, state: State, problems: list[str], console: list[str]) -> None:
    body = page.content()
    if "Traceback" in body:
        problems.append(f"{state.name}: a stack trace is shown")
    if state.section and page.locator("nav.sections a.active").count() != 1:
        problems.append(f"{state.name}: not exactly one current section in the navigation")
    for label, scheme, viewport, rules in (
        ("light", "light", WIDE, None),
        ("dark", "dark", WIDE, COLOUR_RULES),
        ("390 px", "light", NARROW, NARROW_RULES),
    ):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(viewport)
        # A frame for the page to see the new size (its resize handler makes boxes that now
        # scroll sideways focusable), as a phone would have from the start.
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done)))")
        options: dict[str, object] = {"resultTypes": ["violations"]}
        if rules:
            options["runOnly"] = {"type": "rule", "values": rules}
        violations = axe_violations(page, options)
        for violation in violations:
            targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
            problems.append(
                f"{state.name} ({label}): {violation['id']} on {len(violation['nodes'])} "
                f"node(s), e.g. {targets}"
            )
        if viewport is NARROW:
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > NARROW["width"]:
                problems.append(f"{state.name}: {width} px wide on a 390 px screen")
        if viewport is WIDE:
            shot(page, f"{state.name} ({label})")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(WIDE)
    problems.extend(f"{state.name}: {message}" for message in console)
    console.clear()


def walk(page, states: list[State], problems: list[str], console: list[str]) -> None:
    """Reach each state in turn and check it (light, dark, 390 px)."""
    for state in states:
        state.reach(page)
        check(page, state, problems, console)
        if state.leave is not None:
            state.leave(page)


def test_every_page_and_state_passes_axe_in_both_schemes_and_fits_a_phone(
    page, operator_factory, end_user
):
    admin = operator_factory("axe-admin", "admin")
    viewer = operator_factory("axe-viewer", "viewer")
    console = watch_console(page)
    problems: list[str] = []

    login = State("login", visit("/login/"), section=False)
    login.reach(page)
    check(page, login, problems, console)
    log_in(page, admin)
    queryid = queryid_of(STATEMENT)
    running = ExplainRunning(queryid)
    states = [
        State("overview", visit("/")),
        State("overview line page", visit("/overview/indexes/")),
        State("setup checks", visit("/setup-checks/")),
        State("job running", running_job(admin), section=False),
        State("job finished", finished_job(admin), section=False),
        State("schema", visit("/schema/")),
        State("schema, nothing found", visit("/schema/?q=zz-no-such-table")),
        State("table", visit("/schema/tasks/")),
        State("diagram", visit("/schema/diagram")),
        State("data", visit("/data/")),
        State("data, nothing found", visit("/data/?q=zz-no-such-table")),
        State("reason form", visit("/data/tasks/")),
        State("user page", user_page(SUBJECT)),
        State("reason form for browsing", visit("/users/reason/?next=/data/tasks/")),
        State("data list, reason given", give_browsing_reason),
        State("data list, filters open", filters_open),
        State("data list, menu open", menus_open),
        State("data list, invalid filter", visit("/data/tasks/?f.gte.id=lots")),
        State("data list, no row matches", visit("/data/tasks/?f.contains.title=zz-none")),
        State("data list, scoped", visit(f"/data/tasks/?scope_user={SUBJECT}&n=25")),
        State("row", open_first_row),
        State("users", visit("/users/")),
        State("users, found", visit("/users/?q=axe")),
        State("users, nothing found", visit("/users/?q=zz-nobody")),
        State("user gate", user_gate("someone-else")),
        State("ownership", visit("/users/ownership/")),
        State("isolation", visit("/users/isolation/")),
        State("migrations", visit("/migrations/")),
        State("revision", visit("/migrations/revisions/0001/")),
        State("trial runs", visit("/migrations/trials/")),
        State("branches", visit("/branches/")),
        State("new branch", visit("/branches/new/")),
        State("queries", visit("/queries/")),
        State("queries, nothing found", visit("/queries/?q=zz-no-such-statement")),
        State("statement, EXPLAIN running", running.reach, leave=running.leave),
        State("statement, EXPLAIN shown", explain_shown(queryid)),
        State("statement, generic plan", generic_plan_shown(queryid)),
        State("indexes", visit("/queries/indexes/")),
        State("activity", visit("/queries/activity/")),
        State("health", visit("/queries/health/")),
        State("health, trends", health_with_trends),
        State("snapshots", visit("/queries/snapshots/")),
        State("reset statistics", visit("/queries/reset/")),
        State("audit", visit("/audit/")),
        State("audit, nothing found", visit("/audit/?action=zz.none")),
        State("not found", visit("/data/zz_no_such_table/")),
        State("forbidden", as_viewer(viewer), section=False),  # Users is not in a viewer's menu
    ]
    walk(page, states, problems, console)
    assert problems == [], "\n".join(problems)


def give_browsing_reason(page) -> None:
    visit("/data/tasks/?n=25")(page)
    if "/users/reason/" in page.url:
        page.fill("input[name=reason]", REASON)
        page.click("text=Show the data")
        page.wait_for_url(re.compile(r"/data/tasks/"))
    page.locator("#listing table.data-grid").wait_for()
    settle(page)


def open_first_row(page) -> None:
    visit(f"/data/tasks/?scope_user={SUBJECT}&n=25")(page)
    page.locator("#listing td.key a").first.click()
    page.wait_for_url(re.compile(r"/row/"))
    settle(page)


@pytest.fixture
def console_branch(tm) -> Iterator[str]:  # noqa: F811 (the fixture)
    """Return the id of a branch of the time machine's target made as the console makes them
    (its maintenance role, so that its page can compare schemas), with a column the target does
    not have; deleted afterwards."""
    import psycopg

    from dashboard.branches.local_provider import LocalProvider

    provider = LocalProvider.from_settings()
    branch = provider.create_branch("axe-branch")
    with psycopg.connect(provider.migration_url(branch.id), autocommit=True) as conn:
        conn.execute("ALTER TABLE tm_notes ADD COLUMN tried_on_the_branch text")
    yield branch.id
    provider.delete_branch(branch.id)


def test_the_time_machine_pages_pass_axe_in_both_schemes_and_fit_a_phone(
    page,
    operator_factory,
    tm,  # noqa: F811 (the fixture)
    console_branch,
):
    """Compare with a branch (the chooser, the differences), restore (preview, done), the row
    changes (edit with its SQL, a refusal shown on its field, add, delete with its cascade), a
    change's audit event and its revert, the branch page and a trial run's page."""
    admin = operator_factory("axe-tm-admin", "admin")
    console = watch_console(page)
    problems: list[str] = []
    log_in(page, admin)
    with user_session(ALICE) as session:  # since the branch, the application changed things
        assert delete_task(session, ALICE, ALICE_TASKS[0])
        assert update_task(session, ALICE, ALICE_TASKS[1], title="Renamed since", priority="high")
        create_task(session, ALICE, title="Added since")
    compare = f"/users/u/{ALICE}/compare/"
    rows = f"/users/u/{ALICE}/rows"

    def chooser(page) -> None:
        user_page(ALICE)(page)  # the reason for this end-user first
        visit(compare)(page)
        page.locator(f'tr[data-branch="{tm.branch_name}"]').wait_for()

    def differences(page) -> None:
        visit(f"{compare}?branch={quote(tm.branch_id)}")(page)
        for kind in ("deleted", "added", "changed"):
            page.locator(f"#rows-tasks-{kind} table").wait_for()
        settle(page)

    def restore_preview(page) -> None:
        page.locator("#rows-tasks-deleted input[name=row]").first.check()
        page.locator("#rows-tasks-changed input[name=row]").first.check()
        page.click("text=Review the restore of the selected rows…")
        page.locator("#confirm").wait_for()

    def applied(page) -> None:
        page.click("#confirm button[value=apply]")
        page.locator(".outcome").wait_for()

    def latest_write(suffix: str = "") -> Callable[[object], None]:
        def reach(page) -> None:
            intent = AuditEvent.objects.filter(action=INTENT).latest("pk")
            visit(f"/audit/{intent.pk}/{suffix}")(page)

        return reach

    def edit_previewed(page) -> None:
        visit(f"{rows}/tasks/edit/?pk.id={ALICE_TASKS[2]}")(page)
        page.fill("#f-title", "Edited by support")
        page.click("button[value=preview]")
        page.locator("#confirm").wait_for()

    def edit_refused(page) -> None:  # the database's foreign key check, on its field
        visit(f"{rows}/tm_labels/edit/?pk.id={ALICE_LABEL}")(page)
        page.fill("#f-colour", "ultraviolet")
        page.click("button[value=preview]")
        page.click("#confirm button[value=apply]")
        page.locator('[data-field="colour"] .field-error').wait_for()

    states = [
        State("compare, choose", chooser),
        State("compare, differences", differences),
        State("restore preview", restore_preview),
        State("restore done", applied),
        State("audit event of a change", latest_write()),
        State("revert preview", latest_write("revert/")),
        State("row edit", visit(f"{rows}/tasks/edit/?pk.id={ALICE_TASKS[2]}")),
        State("row edit, SQL shown", edit_previewed),
        State("row edit, refused by the database", edit_refused),
        State("row add", visit(f"{rows}/tm_labels/add/")),
        State(
            "row delete, cascade", visit(f"{rows}/conversations/delete/?pk.id={ALICE_CONVERSATION}")
        ),
        State("branch", branch_page(console_branch)),
        State("trial run", trial_page(admin)),
    ]
    walk(page, states, problems, console)
    assert problems == [], "\n".join(problems)


def branch_page(branch_id: str) -> Callable[[object], None]:
    def reach(page) -> None:
        visit(f"/branches/{quote(branch_id)}/")(page)
        page.locator('#schema-diff pre.diff[data-diff="some"]').wait_for()

    return reach


def trial_page(user) -> Callable[[object], None]:
    """A finished trial run whose round trip does not give the schema back."""
    from django.utils import timezone

    from dashboard.history.models import TrialRun

    diff = (
        "--- before\n+++ after\n@@ -1,2 +1,2 @@\n CREATE TABLE tasks (\n"
        "-    due date\n+    due timestamptz\n"
    )
    run = TrialRun.objects.create(
        project="axe",
        created_by=user,
        finished_at=timezone.now(),
        round_trip=True,
        provider="local",
        branch_name="trial-axe",
        branch_id="trial-axe",
        branch_deleted=True,
        revisions=["0002"],
        steps=[
            {
                "revision": "0002",
                "direction": "upgrade",
                "ok": True,
                "seconds": 0.4,
                "message": "due dates",
                "output": "INFO  [alembic] Running upgrade 0001 -> 0002",
            },
            {
                "revision": "0002",
                "direction": "downgrade",
                "ok": False,
                "seconds": 0.2,
                "schema_mismatch": diff,
                "differences": ["tasks.due: timestamptz, not date"],
            },
        ],
        succeeded=False,
        outcome="round_trip_differs",
        failed_revision="0002",
        error="The downgrade of 0002 does not give back the schema it started from.",
        schema_diff=diff,
        round_trip_diff=diff,
        round_trip_comparison={"differences": ["tasks.due: timestamptz, not date"]},
        notes=["The branch was deleted."],
    )
    return visit(f"/migrations/trials/{run.pk}/")
