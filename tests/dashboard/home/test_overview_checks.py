"""The Overview's checklist: each line green, amber or red on a database state made here."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from dashboard.home import overview_checks as checks
from dashboard.onboarding.checklist import BAD, OK, WARN
from dashboard.queries.health import connection_usage, vacuum_state, wraparound
from dashboard.schema import reflection
from dashboard.users.ownership import forget_ownership_map
from tests.dashboard.queries.conftest import as_owner, as_superuser, scratch_table, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_schema(settings) -> Iterator[None]:
    """Every test sees the schema as it is now (tables made here included)."""
    settings.REFLECTION_CHECK_SECONDS = 0
    reflection.invalidate()
    forget_ownership_map()
    yield
    reflection.invalidate()
    forget_ownership_map()


@pytest.fixture
def clean_schema(settings) -> Iterator[str]:
    """A target schema of its own: one table with a primary key, nothing else."""
    as_superuser("DROP SCHEMA IF EXISTS qt_overview CASCADE")
    as_superuser("CREATE SCHEMA qt_overview AUTHORIZATION todo_owner")
    as_owner("CREATE TABLE qt_overview.qt_items (id int PRIMARY KEY, v int)")
    as_owner("INSERT INTO qt_overview.qt_items SELECT g, g FROM generate_series(1, 200) AS g")
    as_owner("ANALYZE qt_overview.qt_items")
    settings.TARGET = {**settings.TARGET, "SCHEMA": "qt_overview"}
    reflection.invalidate()
    forget_ownership_map()
    yield "qt_overview"
    as_superuser("DROP SCHEMA IF EXISTS qt_overview CASCADE")


def _app(**kwargs) -> psycopg.Connection:
    return psycopg.connect(os.environ["APP_DATABASE_URL"], **kwargs)


# ---- migrations and drift ----------------------------------------------------------------------


@contextmanager
def alembic_version(*versions: str) -> Iterator[None]:
    """Stamp the test database's version table with `versions`, and put it back after."""
    before = [row[0] for row in as_owner("SELECT version_num FROM alembic_version")]
    as_owner("DELETE FROM alembic_version")
    for version in versions:
        as_owner("INSERT INTO alembic_version VALUES (%s)", (version,))
    try:
        yield
    finally:
        as_owner("DELETE FROM alembic_version")
        for version in before:
            as_owner("INSERT INTO alembic_version VALUES (%s)", (version,))


def test_migrations_green_amber_red(settings):
    settings.SCHEMA_MODELS = ""  # drift has its own test below; other tests leave tables about
    with alembic_version("0003"):
        line = checks.migrations_line()
    assert line.status == OK, line.summary
    assert "up to date" in line.summary and "not checked (SCHEMA_MODELS is unset)" in line.summary
    assert line.url == "/migrations/"

    with alembic_version("0002"):
        pending = checks.migrations_line()
    assert pending.status == WARN
    assert pending.summary.startswith("1 revision pending")
    assert [f.url for f in pending.findings] == ["/migrations/revisions/0003/"]

    with alembic_version("9999"):
        ahead = checks.migrations_line()
    assert ahead.status == BAD
    assert "9999, which the scripts do not know" in ahead.summary


def test_drift_turns_the_migrations_line_amber():
    from dashboard.schema.drift import drift_report

    before = len(drift_report().differences)  # 0 on a clean database
    with alembic_version("0003"):
        if before == 0:
            clean = checks.migrations_line()
            assert clean.status == OK and "matches the models (core.models)" in clean.summary
        as_owner("ALTER TABLE users ADD COLUMN qt_drift int")
        try:
            line = checks.migrations_line()
        finally:
            as_owner("ALTER TABLE users DROP COLUMN qt_drift")
    assert line.status == WARN
    ways = "1 way" if before == 0 else f"{before + 1} ways"
    assert f"differs from the models (core.models) in {ways}" in line.summary
    if before == 0:
        assert [finding.text for finding in line.findings] == [
            "Column “users.qt_drift” (INTEGER) exists in the database but not in the model."
        ]


# ---- sessions ------------------------------------------------------------------------------------


@pytest.fixture
def lock_table() -> Iterator[str]:
    with scratch_table(
        "qt_ov_lock",
        "CREATE TABLE qt_ov_lock (id int PRIMARY KEY, v int NOT NULL)",
        "INSERT INTO qt_ov_lock VALUES (1, 0)",
    ):
        yield "qt_ov_lock"


def test_sessions_red_when_a_lock_held_by_another_connection_blocks(lock_table):
    blocker = _app(application_name="qt-ov-blocker")
    blocker.execute("UPDATE qt_ov_lock SET v = v + 1 WHERE id = 1")  # holds the row, tx open
    waiter = _app(autocommit=True, application_name="qt-ov-waiter")
    thread = threading.Thread(
        target=lambda: waiter.execute(
            "SET lock_timeout = '15s'; UPDATE qt_ov_lock SET v = 5 WHERE id = 1"
        ),
        daemon=True,
    )
    thread.start()
    try:
        line = wait_until(lambda: (found := checks.sessions_line()).status == BAD and found)
        assert line, "the waiter never showed as blocked"
        assert "1 session waits on a lock" in line.summary
        assert line.url == "/queries/activity/"
        assert f"pid {blocker.info.backend_pid}" in line.findings[0].text
        assert "blocks 1 session" in line.findings[0].text
    finally:
        blocker.rollback()
        blocker.close()
        thread.join(timeout=10)
        waiter.close()


def test_sessions_amber_for_a_long_transaction():
    idle = _app(application_name="qt-ov-idle")
    idle.execute("SELECT 1")  # idle in transaction from now on
    try:
        # Thresholds are arguments: zero seconds makes any open transaction a long one.
        line = wait_until(
            lambda: (
                (found := checks.sessions_line(idle_in_transaction_seconds=0)).status == WARN
                and found
            )
        )
        assert line and "idle in a transaction for more than 0 s" in line.summary
        assert any(f"pid {idle.info.backend_pid}" in f.text for f in line.findings)
        calm = checks.sessions_line(long_running_seconds=3600, idle_in_transaction_seconds=3600)
        assert calm.status == OK
    finally:
        idle.close()


# ---- statements ----------------------------------------------------------------------------------


def test_statements_off_without_a_snapshot_then_slow_ones_named_by_sql():
    from dashboard.queries.snapshots import capture_snapshot

    line = checks.statements_line()
    assert line.status == checks.OFF and line.url == "/queries/snapshots/"

    capture_snapshot()
    with _app(autocommit=True) as app:
        for _ in range(3):
            app.execute("SELECT pg_sleep(0.05) AS qt_overview_slow")
    # pg_sleep(0.05) takes at least 50 ms a call: the thresholds sit on either side of that.
    amber = checks.statements_line(slow_ms=40, very_slow_ms=10_000_000, min_calls=3)
    assert amber.status == WARN
    ours = [f for f in amber.findings if "qt_overview_slow" in f.text]
    assert ours and ours[0].sql and ours[0].text.startswith("SELECT pg_sleep($1) AS qt_overview")
    assert "over 3 calls" in ours[0].text and ours[0].url.startswith("/queries/")
    assert not ours[0].url.rstrip("/").endswith("queries")

    red = checks.statements_line(slow_ms=40, very_slow_ms=40, min_calls=3)
    assert red.status == BAD
    green = checks.statements_line(slow_ms=10_000_000, very_slow_ms=20_000_000, min_calls=3)
    assert green.status == OK and not green.findings

    # After the next snapshot, what ran before it no longer counts.
    capture_snapshot()
    later = checks.statements_line(slow_ms=40, very_slow_ms=10_000_000, min_calls=3)
    assert not any("qt_overview_slow" in f.text for f in later.findings)


# ---- indexes -------------------------------------------------------------------------------------


def test_indexes_green_amber_red(clean_schema):
    assert checks.indexes_line().status == OK

    as_owner("CREATE INDEX qt_items_v ON qt_overview.qt_items (v)")
    reflection.invalidate()
    amber = checks.indexes_line()
    assert amber.status == WARN and amber.url == "/queries/indexes/#unused-indexes"
    assert "qt_items_v on qt_items (never scanned)" in [f.text for f in amber.findings]

    as_owner("INSERT INTO qt_overview.qt_items VALUES (201, 1)")  # v is not unique any more
    with pytest.raises(psycopg.errors.UniqueViolation):
        as_owner("CREATE UNIQUE INDEX CONCURRENTLY qt_items_v_unique ON qt_overview.qt_items (v)")
    red = checks.indexes_line()
    assert red.status == BAD and red.url == "/queries/indexes/#invalid-indexes"
    assert "qt_items_v_unique on qt_items (invalid)" in [f.text for f in red.findings]
    assert "qt_items_v on qt_items (never scanned)" in [f.text for f in red.findings]


@pytest.fixture
def owned_notes() -> Iterator[str]:
    """A user-owned table (foreign key to users) with a never-scanned owner index, no RLS."""
    with scratch_table(
        "qt_ov_notes",
        "CREATE TABLE qt_ov_notes (id int PRIMARY KEY, "
        "user_id text NOT NULL REFERENCES users (id), body text)",
        "CREATE INDEX qt_ov_notes_user_id ON qt_ov_notes (user_id)",
        "CREATE INDEX qt_ov_notes_body ON qt_ov_notes (body)",
    ):
        forget_ownership_map()
        yield "qt_ov_notes"
    forget_ownership_map()


def test_an_owner_column_index_is_never_advised_to_drop(owned_notes, viewer_client):
    from dashboard.queries.indexes import index_report
    from dashboard.queries.report_views import owner_columns

    columns = owner_columns()
    assert ("qt_ov_notes", "user_id") in columns
    report = index_report(owner_columns=columns)
    assert "qt_ov_notes_body" in {i.name for i in report.unused}
    assert "qt_ov_notes_user_id" not in {i.name for i in report.unused}
    assert "qt_ov_notes_user_id" in {i.name for i in report.owner_unused}
    line = checks.indexes_line(owner_columns=columns)
    assert not any("qt_ov_notes_user_id" in f.text for f in line.findings)

    page = viewer_client.get("/queries/indexes/").content.decode()
    unused, kept = page.split('id="owner-indexes"', 1)
    assert "qt_ov_notes_body" in unused and "public.qt_ov_notes_body;" in unused
    assert "qt_ov_notes_user_id" not in unused.split('id="unused-indexes"', 1)[1]
    assert "qt_ov_notes_user_id" in kept.split("</table>", 1)[0]
    assert "DROP INDEX CONCURRENTLY public.qt_ov_notes_user_id" not in page
    assert "isolation report</a> asks for exactly these indexes" in page


# ---- isolation -----------------------------------------------------------------------------------


def test_isolation_green_then_amber_for_a_table_without_rls_or_owner_index():
    from dashboard.users.isolation import isolation_report
    from dashboard.users.ownership import ownership_map

    green = checks.isolation_line()
    before = isolation_report(ownership_map())
    if not before.without_rls and not before.with_unindexed_owner:  # the migrated schema
        assert green.status == OK, green.summary
    assert green.url == "/users/isolation/"
    with scratch_table(
        "qt_ov_owned",
        "CREATE TABLE qt_ov_owned (id int PRIMARY KEY, user_id text REFERENCES users (id))",
    ):
        forget_ownership_map()
        amber = checks.isolation_line(can_open_report=False)
    forget_ownership_map()
    assert amber.status == WARN
    without_rls = len(before.without_rls) + 1
    unindexed = len(before.with_unindexed_owner) + 1
    assert f"{checks._plural(without_rls, 'user-owned table')} without row-level" in amber.summary
    assert f"{checks._plural(unindexed, 'owner column')} without an index" in amber.summary
    if without_rls == 1:
        assert "qt_ov_owned: row-level security off" in [f.text for f in amber.findings]
    assert amber.url == "/schema/"  # a viewer cannot open the isolation report


def test_isolation_off_without_a_users_table(clean_schema):
    line = checks.isolation_line()
    assert line.status == checks.OFF and line.summary


# ---- connections, wraparound, dead rows --------------------------------------------------------


def test_connections_against_max_connections():
    before = connection_usage()
    extra = [_app(autocommit=True) for _ in range(6)]
    try:
        after = connection_usage()
        assert after.client_connections >= before.client_connections + 6
        # Amber from the point half-way between the two real readings.
        middle = (before.connection_percent + after.connection_percent) / 2
        assert checks.connections_line(after, warn_percent=middle).status == WARN
        assert checks.connections_line(after, warn_percent=0, bad_percent=middle).status == BAD
        line = checks.connections_line(after, warn_percent=100, bad_percent=100)
        assert line.status == OK and line.url == "/queries/health/#connections"
        assert f"{after.client_connections:,} of {after.usable_connections:,}" in line.summary
    finally:
        for conn in extra:
            conn.close()


def test_wraparound_age_against_the_limit():
    health = wraparound()
    percent = health.wraparound_percent
    assert 0 < percent < 25  # a young test cluster
    assert checks.wraparound_line(health).status == OK
    assert checks.wraparound_line(health, warn_percent=percent / 2).status == WARN
    line = checks.wraparound_line(health, warn_percent=0, bad_percent=percent / 2)
    assert line.status == BAD and line.url == "/queries/health/#wraparound"
    assert f"{health.oldest_xid_age:,}" in line.summary


def test_dead_rows_red_amber_green(clean_schema):
    as_owner("ALTER TABLE qt_overview.qt_items SET (autovacuum_enabled = off)")
    assert checks.dead_rows_line(vacuum_state()).status == OK
    as_owner("DELETE FROM qt_overview.qt_items WHERE id <= 160")  # 80 % dead, past the threshold

    def reading():
        health = vacuum_state()
        return health if any(row["dead_rows"] for row in health.tables) else None

    health = wait_until(reading)
    assert health, "the dead rows never reached the statistics"
    red = checks.dead_rows_line(health)
    assert red.status == BAD and red.url == "/queries/health/#vacuum"
    assert red.findings[0].text.startswith("qt_items: 160 dead rows (80.0 %)")
    assert checks.dead_rows_line(health, bad_percent=90).status == WARN
    as_superuser("VACUUM qt_overview.qt_items")
    assert wait_until(lambda: checks.dead_rows_line(vacuum_state()).status == OK)


# ---- setup ---------------------------------------------------------------------------------------


def test_setup_line_is_the_worst_of_the_setup_checks(settings):
    settings.SECURE_COOKIES = True  # and this check is told the page came over plain http
    line = checks.setup_line(request_secure=False)
    assert line.status == BAD and line.url == "/setup-checks/"
    assert any(f.text.startswith("cookies and http") for f in line.findings)
