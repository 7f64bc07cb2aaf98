"""The write door: guards, row-level security, the ownership predicate, the audit before and
after, the transaction's own timeouts, every refusal that leaves the target untouched, and that
it is the one door (a parse of dashboard/ and core/ for every other way to a database)."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from dashboard.audit.models import AuditEvent
from dashboard.row_text import fingerprint_key
from dashboard.target_write import INTENT, OUTCOME, apply, preview
from dashboard.users.ownership import ownership_map
from dashboard.write_plan import RowChange, WritePlan, WriteRefused, WritesOff, WriteUnavailable
from tests.dashboard.app_rows import ALICE, BOB, admin_request, fingerprint, owner_url, target

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


def title_change_then(task: int, title: str, then: RowChange) -> WritePlan:
    """Return a plan of Alice's: a guarded title change of `task`, then the change `then`."""
    first = title_change(task, title, fingerprint("tasks", f"id = {task}")).changes[0]
    return WritePlan("restore", ALICE, (first, then))


def run(plan: WritePlan, user, reason: str = "SUP-1 test"):
    owners = ownership_map()
    shown = preview(plan, owners)
    return shown, apply(admin_request(user), plan, owners, reason, shown.digest)


def title_of(task: int) -> str:
    return target("SELECT title FROM tasks WHERE id = %s", (task,))[0][0]


def test_a_fingerprint_cannot_be_recomputed_from_what_the_console_shows(
    app_rows, admin_user, settings
):
    """A row's fingerprint covers its masked values: without the key, someone who saw it and the
    row's other values could test guesses of a secret offline. The key is in no text shown."""
    task = app_rows.alice_tasks[0]
    seen = fingerprint("tasks", f"id = {task}")
    columns = ", ".join(f"{name}::text" for name in TASK_COLUMNS)
    bare = target(f"SELECT md5(ARRAY[{columns}]::text) FROM tasks WHERE id = {task}")[0][0]
    assert seen != bare  # keyed: the plain md5 of the values is not it
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert fingerprint("tasks", f"id = {task}") != seen  # the key comes from SECRET_KEY
    settings.SECRET_KEY = settings.SECRET_KEY.removeprefix("another-")

    shown, outcome = run(title_change(task, "Keyed", seen), admin_user)
    assert outcome.ok and outcome.applied == [0]  # the guard matches under the key
    key = fingerprint_key()
    texts = [s.sql for s in shown.statements] + [s.shown for s in shown.statements]
    events = [str(event.detail) for event in AuditEvent.objects.all()]
    assert texts and events and not any(key in text for text in texts + events)


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
    guard = "AND md5(current_setting('schemadesk.row_fingerprint_key') || ARRAY[id::text,"
    assert guard in statement
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
    planted = RowChange("tasks", "insert", values=(("user_id", BOB), ("title", "planted")))
    plan = title_change_then(alice_task, "fine", planted)
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


@contextmanager
def trigger_on(table: str, body: str) -> Iterator[None]:
    """Run `body` (plpgsql) before each UPDATE or INSERT of a row of `table`, as the writer."""
    target(
        f"CREATE FUNCTION tw_probe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
        "RETURN NEW; END $$"
    )
    target(
        f"CREATE TRIGGER tw_probe BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW "
        "EXECUTE FUNCTION tw_probe()"
    )
    try:
        yield
    finally:
        target(f"DROP TRIGGER tw_probe ON {table}")
        target("DROP FUNCTION tw_probe()")


def note_change(note: int, body: str) -> WritePlan:
    change = RowChange(
        "tw_notes",
        "update",
        key=(("id", str(note)),),
        values=(("body", body),),
        guard=fingerprint("tw_notes", f"id = {note}"),
        guard_columns=("id", "user_id", "body"),
    )
    return WritePlan("edit", ALICE, (change,))


def test_the_write_transaction_has_the_write_settings_timeouts(app_rows, admin_user, settings):
    settings.TARGET_WRITE = {
        **settings.TARGET_WRITE,
        "STATEMENT_TIMEOUT_MS": 4321,
        "LOCK_TIMEOUT_MS": 765,
    }
    note = app_rows.alice_note
    # What the write's own statement sees, written into the row it changes.
    probe = (
        "NEW.body := current_setting('statement_timeout') || ' ' || "
        "current_setting('lock_timeout') || ' ' || current_setting('app.current_user_id');"
    )
    with trigger_on("tw_notes", probe):
        _, outcome = run(note_change(note, "anything"), admin_user)
    assert outcome.ok and outcome.applied == [0]
    assert target("SELECT body FROM tw_notes WHERE id = %s", (note,)) == [
        (f"4321ms 765ms {ALICE}",)
    ]
    [after] = outcome.after
    assert after["values"]["body"] == f"4321ms 765ms {ALICE}"


def test_a_row_locked_by_another_session_fails_fast_with_a_sentence(app_rows, admin_user, settings):
    settings.TARGET_WRITE = {
        **settings.TARGET_WRITE,
        "STATEMENT_TIMEOUT_MS": 60_000,
        "LOCK_TIMEOUT_MS": 300,
    }
    task = app_rows.alice_tasks[0]
    plan = title_change(task, "never", fingerprint("tasks", f"id = {task}"))
    owners = ownership_map()
    shown = preview(plan, owners)
    with psycopg.connect(owner_url()) as other:
        other.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task,))  # the app, say
        started = time.monotonic()
        with pytest.raises(WriteRefused) as refused:
            apply(admin_request(admin_user), plan, owners, "SUP-5", shown.digest)
        assert time.monotonic() - started < 5  # the lock timeout, not the statement timeout
        other.rollback()
    assert refused.value.sentence == (
        "The write was stopped before it changed anything: it waited longer than "
        "TARGET_WRITE_LOCK_TIMEOUT_MS (300 ms) for a lock another session holds. Nothing was "
        "written; try again in a moment."
    )
    assert refused.value.status == 409  # the database answered: not a 503
    assert title_of(task) == "Task 1"
    assert not AuditEvent.objects.exists()  # refused before its intent was recorded


def test_a_lock_met_midway_rolls_the_whole_write_back(app_rows, admin_user, settings):
    settings.TARGET_WRITE = {
        **settings.TARGET_WRITE,
        "STATEMENT_TIMEOUT_MS": 60_000,
        "LOCK_TIMEOUT_MS": 300,
    }
    task = app_rows.alice_tasks[0]
    second = RowChange("tw_notes", "insert", values=(("user_id", ALICE), ("body", "second")))
    plan = title_change_then(task, "half", second)
    owners = ownership_map()
    shown = preview(plan, owners)
    with psycopg.connect(owner_url()) as other:
        other.execute("LOCK TABLE tw_notes IN SHARE MODE")  # no insert until it ends
        started = time.monotonic()
        outcome = apply(admin_request(admin_user), plan, owners, "SUP-6", shown.digest)
        assert time.monotonic() - started < 5
        other.rollback()
    assert outcome.error is not None and outcome.error.statement == 1
    assert outcome.error.sqlstate == "55P03"  # lock_not_available: the lock timeout stopped it
    assert outcome.error.sentence == (
        "it waited longer than TARGET_WRITE_LOCK_TIMEOUT_MS (300 ms) for a lock another "
        "session holds"
    )
    assert outcome.applied == [] and outcome.after == []
    assert title_of(task) == "Task 1"  # the first statement, which had run, is rolled back
    assert target("SELECT count(*) FROM tw_notes WHERE body = 'second'") == [(0,)]
    result = AuditEvent.objects.get(action=OUTCOME)
    assert result.detail["status"] == "failed" and result.detail["error"]["sqlstate"] == "55P03"


def test_a_statement_past_the_statement_timeout_is_stopped_and_rolled_back(
    app_rows, admin_user, settings
):
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "STATEMENT_TIMEOUT_MS": 300}
    note = app_rows.alice_note
    started = time.monotonic()
    with trigger_on("tw_notes", "PERFORM pg_sleep(5);"):  # a slow trigger of the application
        _, outcome = run(note_change(note, "too slow"), admin_user)
    assert time.monotonic() - started < 4
    assert outcome.error is not None and outcome.error.sqlstate == "57014"  # query_canceled
    assert outcome.error.sentence == (
        "it took longer than TARGET_WRITE_STATEMENT_TIMEOUT_MS (300 ms), or it was cancelled"
    )
    assert target("SELECT body FROM tw_notes WHERE id = %s", (note,)) == [("note",)]


# -- one write door: who else connects, as whom, and what it may write ---------------------------

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dashboard", "core")

# Every module of dashboard/ and core/ that opens a database connection, or starts a process
# that may, with the role it connects as and what it may write. Rows of the target's tables are
# written by the write door alone: the read gateway's transactions are READ ONLY whatever their
# role (test_target.py), and each other path writes only what is said here. A new way to a
# database fails test_every_connection_is_one_of_the_known_doors until it is looked at and
# placed here.
CONNECTING = {
    "dashboard/target_write.py": "the write door: end-users' rows, as TARGET_WRITE_DATABASE_URL",
    "dashboard/target.py": (
        "the read gateway: READ ONLY transactions, rolled back, as the reader, the read-only "
        "role, the application's role (plans only) or a branch's owner; and the maintenance "
        "role's engine, handed to queries/actions.py"
    ),
    "dashboard/queries/actions.py": (
        "the admin's cancel, terminate and reset statistics, as the maintenance role: server "
        "functions, no table written"
    ),
    "dashboard/branches/local_provider.py": (
        "local branches, as the maintenance role: CREATE/DROP DATABASE and COMMENT ON DATABASE "
        "on the target's server; it writes only the branch databases"
    ),
    "dashboard/branches/dump_restore.py": "pg_dump reads the target; pg_restore fills a branch",
    "dashboard/history/trial.py": "trial runs: a branch's version table, only ever a branch's URL",
    "dashboard/history/commands.py": (
        "the project's env.py in a subprocess: a branch's URL (trial runs), or "
        "MIGRATIONS_APPLY_DATABASE_URL when an admin applies migrations (the schema; off "
        "unless MIGRATIONS_APPLY_ENABLED)"
    ),
    "dashboard/history/url_variable.py": (
        "the project's env.py with a sentinel URL and create_engine replaced (url_probe.py): "
        "it connects nowhere"
    ),
    "dashboard/onboarding/provision.py": (
        "`manage.py connect`: roles, a database and grants, with the URL the operator gives it"
    ),
    "dashboard/jobs/worker.py": "the console's own database (the job queue)",
    "dashboard/branches/client_tools.py": "pg_dump --version: no connection",
    "dashboard/history/review_squawk.py": "squawk lints SQL text: no connection",
    "dashboard/home/supervisor.py": "starts gunicorn and the worker",
    "core/engine.py": (
        "the demo application's own engines (its runtime role); the console imports none of "
        "them (test_the_console_writes_nothing_through_the_applications_code)"
    ),
    "core/access/scope.py": "the demo application's data access, as its runtime role",
    "core/datagen.py": "`python -m core.datagen`: the demo's seed data, as the owner",
    "core/embedded.py": "`make demo` and the tests: the layout, made as a superuser",
    "core/audit_owner.py": "the console's own database: the audit owner lent for its migrations",
    "core/demo.py": "`make demo`: Alembic, the seed and Django's migrations, in subprocesses",
    "core/pgcluster.py": "initdb and pg_ctl of the private cluster",
}
# The modules that name the write role's URL (TARGET_WRITE_DATABASE_URL), and why.
WRITE_URL = {
    "dashboard/settings.py": "reads the variable into settings.TARGET_WRITE",
    "dashboard/target_write.py": "the write door: the only connection opened with it",
    "dashboard/target.py": (
        "application_url(): a plain EXPLAIN of a writing statement is planned as the "
        "application's role, in a READ ONLY transaction (tests/dashboard/queries/test_explain.py)"
    ),
    "dashboard/queries/explain.py": "asks whether it is set, to say why a write cannot be planned",
    "dashboard/onboarding/role_powers.py": "names its role, whose powers are then read as reader",
    "core/embedded.py": (
        "puts the runtime role's URL in the demo's and the tests' environment (it connects "
        "only as a superuser, to make the layout)"
    ),
}
# What opens a connection or a process (by the called name), and what hands one out.
OPENERS = {"psycopg.connect", "psycopg.AsyncConnection.connect", "create_engine"}
ENGINES = {
    "dashboard.target": {"engine", "maintenance_engine", "_unpooled_engine"},
    "core.engine": {"create_app_engine", "create_direct_engine", "app_engine", "app_sessions"},
}


def scanned_modules() -> Iterator[tuple[str, ast.Module]]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def opens_connections(tree: ast.Module) -> bool:
    """Return whether the module connects: a known opener, a subprocess, or an engine
    imported from the modules that make them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in OPENERS or called.startswith("subprocess."):
                return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module in ENGINES
            and {alias.name for alias in node.names} & ENGINES[node.module]
        ):
            return True
    return False


def names_the_write_url(tree: ast.Module) -> bool:
    """Return whether the module reads the write role's URL: the variable's name, the
    setting that holds it, or the functions that return it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "TARGET_WRITE_DATABASE_URL":
            return True
        if isinstance(node, ast.Subscript | ast.Call):
            text = ast.unparse(node)
            if "TARGET_WRITE" in text and "'URL_VAR'" in text:
                return True
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(
                ("application_url", "_write_url")
            ):
                return True
    return False


def test_every_connection_is_one_of_the_known_doors():
    found = {module for module, tree in scanned_modules() if opens_connections(tree)}
    assert {"dashboard/target_write.py", "dashboard/queries/actions.py"} <= found  # the scan works
    assert found - CONNECTING.keys() == set(), "a new way to a database: look at it, list it"
    assert CONNECTING.keys() - found == set(), "listed, but it connects no longer: unlist it"


def test_only_the_write_door_connects_with_the_write_url():
    found = {module for module, tree in scanned_modules() if names_the_write_url(tree)}
    assert found == WRITE_URL.keys()
    # Of those, the door and the gateway (READ ONLY) connect with it; core/embedded.py
    # connects too, but as a superuser: the URL it names is only written into an environment.
    connecting = {module for module in found if module in CONNECTING}
    assert connecting == {"dashboard/target_write.py", "dashboard/target.py", "core/embedded.py"}


def test_the_console_writes_nothing_through_the_applications_code():
    """The console (dashboard/) never uses the demo application's engines or data access,
    which write as its runtime role outside the door."""
    used = set()
    for module, tree in scanned_modules():
        if not module.startswith("dashboard/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core."):
                names = {alias.name for alias in node.names}
                if node.module.startswith("core.access") or names & ENGINES["core.engine"]:
                    used.add(f"{module}: from {node.module} import {', '.join(sorted(names))}")
            if isinstance(node, ast.Import):
                used |= {
                    f"{module}: import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith(("core.access", "core.engine", "core.datagen"))
                }
    assert used == set()


def test_a_connection_lost_midway_still_records_the_outcome(app_rows, admin_user):
    """The target's session ends in the middle of the write (a failover, an administrator's
    pg_terminate_backend): nothing was committed, and the intent gets its outcome, the error,
    instead of an exception that leaves the intent alone in the trail (and a 500)."""
    note = app_rows.alice_note
    body = target("SELECT body FROM tw_notes WHERE id = %s", (note,))
    with trigger_on("tw_notes", "PERFORM pg_terminate_backend(pg_backend_pid());"):
        _, outcome = run(note_change(note, "anything"), admin_user)

    assert not outcome.ok and outcome.applied == []
    assert outcome.error.statement == 0
    assert target("SELECT body FROM tw_notes WHERE id = %s", (note,)) == body
    intent = AuditEvent.objects.get(action=INTENT)
    recorded = AuditEvent.objects.get(action=OUTCOME)
    assert recorded.detail["intent"] == intent.pk and recorded.detail["status"] == "failed"
    assert "terminat" in recorded.detail["error"]["sentence"]


def test_a_connection_lost_before_the_intent_is_a_sentence_not_a_500(
    app_rows, admin_user, settings
):
    """The session ends while the write waits for its row lock (before anything is recorded):
    the refusal says the database stopped answering, and nothing is written or audited."""
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "LOCK_TIMEOUT_MS": 20_000}
    task = app_rows.alice_tasks[0]
    plan = title_change(task, "never", fingerprint("tasks", f"id = {task}"))
    owners = ownership_map()
    shown = preview(plan, owners)
    with psycopg.connect(owner_url(), autocommit=True) as other:
        holder = psycopg.connect(owner_url())
        holder.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task,))

        def end_the_waiting_write() -> None:
            for _ in range(200):
                ended = other.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'schemadesk' AND wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()"
                ).fetchall()
                if ended:
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=end_the_waiting_write)
        thread.start()
        try:
            with pytest.raises(WriteUnavailable) as refused:
                apply(admin_request(admin_user), plan, owners, "SUP-5", shown.digest)
        finally:
            thread.join()
            holder.close()
    assert "stopped answering; nothing was written" in refused.value.sentence
    assert title_of(task) != "never"
    assert not AuditEvent.objects.exists()
