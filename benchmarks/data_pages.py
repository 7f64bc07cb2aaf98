"""Benchmark: Data section list pages on a 10-million-row `tasks` table, against stock admin.

    .venv/bin/python -m benchmarks.data_pages                 # build (or reuse) and measure
    .venv/bin/python -m benchmarks.data_pages --runs 50 --admin-runs 5 --rows 10000000

Uses a persistent embedded cluster in var/bench-pg (database `schemadesk_bench`, the production
layout, the Alembic head) filled by `core.datagen` (1 user per 10 tasks; no conversations). The
first run takes minutes to write the rows; later runs reuse them.

It times, in-process, three ways to draw the same page of 50 rows with every column:

    ours   dashboard.data.views.table_list called with a RequestFactory request (the view,
           including its template and the audit event every look at `tasks` writes, since
           tasks are end-users' data; timed from call to rendered response)
    admin  a stock Django ModelAdmin.changelist_view over an unmanaged model of `tasks`
           (benchmarks/data_admin), rendered
    sql    the bare indexed SQL fetch through psycopg (the floor)

for five pages: the first page; a page 100,000 pages deep (ours follows a cursor built from the
row at that depth, admin uses ?p=100000, sql uses the keyset WHERE); a list filtered by the
user_id of a typical user, and of the user with the most tasks (sorted by id: the existing
index on user_id finds the rows, which are then sorted); and a list filtered by completed = true
sorted by created_at. Two pages need indexes the application's migrations do not have; the
benchmark creates them (see BENCH_INDEXES): (completed, created_at, id), without which no page
sorts 5M rows in 50 ms, and (user_id, id), without which Postgres may walk the primary key
looking for the busiest user's rows and time out.

It prints p50/p95 over the runs and the statements each page sent to the database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DIR = ROOT / "var" / "bench-pg"
DATABASE = "schemadesk_bench"
ANCHOR = date(2025, 6, 30)  # fixed, so the data is the same on every machine
PAGE_ROWS = 50
FIRST_PAGE_GOAL_MS = 8.0  # issue 15: the first page, on a quiet machine
DEPTH_PAGES = 100_000
# Indexes the measured pages need that the application's migrations do not create (yet).
BENCH_INDEXES = {
    # completed = true ORDER BY created_at, id: nothing else can serve it.
    "bench_tasks_completed_created_at_id": "tasks (completed, created_at, id)",
    # user_id = ? ORDER BY id: with ix_tasks_user_id alone, Postgres may walk the primary key
    # hoping to meet the user's rows early, which for a user whose tasks are all recent means
    # reading millions of rows (the busiest user timed out at 5 s without this index).
    "bench_tasks_user_id_id": "tasks (user_id, id)",
}


# -- the database ------------------------------------------------------------------------------
def prepare_database(rows: int) -> dict[str, str]:
    """Start the cluster, lay out the database, fill `tasks`; return the environment to use."""
    from core.embedded import prepare
    from core.pgcluster import Cluster

    cluster = Cluster(CLUSTER_DIR)
    print(cluster.start(), file=sys.stderr)
    layout = prepare(cluster, DATABASE)
    environment = layout.environment()
    os.environ.update(environment)
    _migrate()
    owner = environment["APP_DIRECT_URL"]
    with psycopg.connect(owner, autocommit=True) as conn:
        have = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.tasks'::regclass"
        ).fetchone()
        have_rows = int(have[0]) if have else 0
    if abs(have_rows - rows) > rows * 0.01:
        _generate(owner, rows, reset=have_rows > 0)
    with psycopg.connect(owner, autocommit=True) as conn:
        for name, definition in BENCH_INDEXES.items():
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")
        # Set hint bits and the visibility map once, so no implementation pays for it.
        conn.execute("VACUUM (ANALYZE) tasks")
    return environment


def _migrate() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")


def _generate(owner_url: str, rows: int, reset: bool) -> None:
    from core import datagen

    counts = datagen.Counts(users=max(rows // 10, 1), tasks=rows, conversations=0, messages=0)
    print(f"writing {rows:,} tasks (this takes a few minutes once)", file=sys.stderr)
    with psycopg.connect(owner_url) as conn:
        report = datagen.generate(
            conn,
            counts,
            seed=42,
            anchor=ANCHOR,
            reset=reset,
            progress=datagen.Progress(enabled=True),
        )
    print(f"wrote {sum(report.rows.values()):,} rows in {report.seconds:.0f}s", file=sys.stderr)


def facts(owner_url: str) -> dict[str, Any]:
    """Return (cached in var/bench-pg) the busiest user and the key at page 100,000's start."""
    cache = CLUSTER_DIR / "data_pages_facts.json"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        total = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'tasks'::regclass")
        stamp = str(total.fetchone()[0])  # type: ignore[index]  # the table exists: one row
        if cache.is_file():
            known = json.loads(cache.read_text())
            if known.get("stamp") == stamp:
                return known
        busiest = conn.execute(
            "SELECT user_id, count(*) FROM tasks GROUP BY user_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        typical = conn.execute(
            "SELECT user_id, (SELECT count(*) FROM tasks AS t WHERE t.user_id = m.user_id) "
            "FROM tasks AS m WHERE id = 5000000"
        ).fetchone()
        depth = (DEPTH_PAGES - 1) * PAGE_ROWS  # rows before page 100,000
        before = conn.execute(
            "SELECT id FROM tasks ORDER BY id OFFSET %s LIMIT 1", (depth - 1,)
        ).fetchone()
    assert busiest and typical and before, "the tasks table is too small for this benchmark"
    found = {
        "stamp": stamp,
        "user_id": busiest[0],
        "user_tasks": busiest[1],
        "typical_user_id": typical[0],
        "typical_user_tasks": typical[1],
        "deep_after_id": before[0],
    }
    cache.write_text(json.dumps(found))
    return found


# -- the three implementations -----------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    ours: str  # query string of /data/tasks/
    admin: str  # query string of the admin changelist
    sql: str
    sql_params: tuple[Any, ...] = ()


@dataclass
class Timing:
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time (ours only)
    queries: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # notices the page showed (timeouts)

    def p(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.times_ms if values is None else values)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


COLUMNS = (
    "id, user_id, title, description, completed, priority, tags, due_date, recurrence, "
    "created_at, updated_at"
)


def scenarios(found: dict[str, Any]) -> list[Scenario]:
    from django.utils.http import urlencode

    from dashboard.data.cursor import encode_cursor

    deep_cursor = encode_cursor("tasks", "id", "next", [found["deep_after_id"]])
    created_at_position = 10  # 1-based place of created_at in the admin's list_display
    user, typical = found["user_id"], found["typical_user_id"]
    return [
        Scenario("first page", "", "", f"SELECT {COLUMNS} FROM tasks ORDER BY id LIMIT 51"),
        Scenario(
            f"page {DEPTH_PAGES:,} (row {(DEPTH_PAGES - 1) * PAGE_ROWS + 1:,})",
            urlencode({"cursor": deep_cursor}),
            urlencode({"p": DEPTH_PAGES}),
            f"SELECT {COLUMNS} FROM tasks WHERE id > %s ORDER BY id LIMIT 51",
            (found["deep_after_id"],),
        ),
        Scenario(
            f"user_id = a typical user ({found['typical_user_tasks']:,} tasks)",
            urlencode({"f.eq.user_id": typical}),
            urlencode({"user_id__exact": typical}),
            f"SELECT {COLUMNS} FROM tasks WHERE user_id = %s ORDER BY id LIMIT 51",
            (typical,),
        ),
        Scenario(
            f"user_id = busiest user ({found['user_tasks']:,} tasks)",
            urlencode({"f.eq.user_id": user}),
            urlencode({"user_id__exact": user}),
            f"SELECT {COLUMNS} FROM tasks WHERE user_id = %s ORDER BY id LIMIT 51",
            (user,),
        ),
        Scenario(
            "completed, sorted by created_at",
            urlencode({"f.eq.completed": "true", "o": "created_at"}),
            urlencode({"completed__exact": 1, "o": created_at_position}),
            f"SELECT {COLUMNS} FROM tasks WHERE completed ORDER BY created_at, id LIMIT 51",
        ),
    ]


def superuser():
    from django.contrib.auth import get_user_model

    return get_user_model()(username="bench", is_superuser=True, is_staff=True, is_active=True)


def saved_operator():
    """Return a saved administrator: the audit events of our pages name their operator."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_superuser": True, "is_active": True}
    )
    return user


def session_with_a_reason():
    """Return a session holding a reason for browsing end-users' data (the gate's)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    from dashboard.users import gate

    request = RequestFactory().get("/")
    request.session = SessionStore()
    gate.remember_reason(request, gate.BROWSING, "BENCH-1 benchmark")
    return request.session


def time_ours(query: str, runs: int, warmup: int) -> Timing:
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails
    from sqlalchemy import event

    from dashboard.data.views import table_list
    from dashboard.target import engine

    factory, user, session = RequestFactory(), saved_operator(), session_with_a_reason()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine(), "before_cursor_execute", count)
    timing = Timing()
    try:
        for index in range(warmup + runs):
            request = factory.get(f"/data/tasks/?{query}" if query else "/data/tasks/")
            request.user = user
            request.session = session
            request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]  # as its middleware does
            statements.clear()
            started, cpu_started = time.perf_counter(), time.process_time()
            response = table_list(request, table="tasks")
            elapsed = (time.perf_counter() - started) * 1000
            assert isinstance(response, HttpResponse)
            cpu = (time.process_time() - cpu_started) * 1000
            assert response.status_code == 200, response.content[:500]
            notices = re.findall(rb'class="notice (?:warn|error)"[^>]*>([^<]*)<', response.content)
            if index >= warmup:
                timing.times_ms.append(elapsed)
                timing.cpu_ms.append(cpu)
                timing.queries.append(len(statements))
                timing.problems += [n.decode() for n in notices]
    finally:
        event.remove(engine(), "before_cursor_execute", count)
    return timing


def time_admin(query: str, runs: int, warmup: int) -> Timing:
    from django.contrib import admin
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.db import connections
    from django.template.response import TemplateResponse
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from benchmarks.data_admin.models import BenchTask

    model_admin = admin.site._registry[BenchTask]
    factory, user = RequestFactory(), superuser()
    timing = Timing()
    for index in range(warmup + runs):
        request = factory.get(f"/admin/data_admin/benchtask/?{query}")
        request.user = user
        request._messages = CookieStorage(request)  # type: ignore[attr-defined]  # as middleware does
        with CaptureQueriesContext(connections["bench"]) as captured:
            started = time.perf_counter()
            response = model_admin.changelist_view(request)
            assert isinstance(response, TemplateResponse)
            response.render()
            elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if index >= warmup:
            timing.times_ms.append(elapsed)
            timing.queries.append(len(captured.captured_queries))
    return timing


def time_sql(owner_url: str, sql: str, params: tuple[Any, ...], runs: int, warmup: int) -> Timing:
    timing = Timing()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for index in range(warmup + runs):
            started = time.perf_counter()
            rows = conn.execute(sql, params).fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            assert rows
            if index >= warmup:
                timing.times_ms.append(elapsed)
                timing.queries.append(1)
    return timing


# -- the report --------------------------------------------------------------------------------
def print_table(results: list[tuple[Scenario, dict[str, Timing]]], runs: dict[str, int]) -> bool:
    """Print the table; return True when the goals are met."""
    names = ("ours", "admin", "sql")
    header = (
        f"{'page (50 rows, every column)':<40}"
        + "".join(f"{name + ' p50':>11}{name + ' p95':>11}{'stmts':>7}" for name in names)
        + f"{'ours cpu p50':>14}{'ours/sql p50':>14}"
    )
    print()
    print(header)
    print("-" * len(header))
    for scenario, timings in results:
        line = f"{scenario.name:<40}"
        for name in names:
            timing = timings.get(name)
            if timing is None or not timing.times_ms:
                line += f"{'skipped':>29}"
                continue
            stmts = max(timing.queries)
            line += f"{timing.p(50):>9.1f}ms{timing.p(95):>9.1f}ms{stmts:>7}"
        ours, sql = timings["ours"], timings["sql"]
        ratio = ours.p(50) / sql.p(50) if sql.p(50) else float("inf")
        line += f"{ours.p(50, ours.cpu_ms):>12.1f}ms{ratio:>13.0f}x"
        print(line)
    print()
    print(
        f"runs: ours {runs['ours']}, admin {runs['admin']}, sql {runs['sql']} (after warm-up); "
        "times are server time in-process; 'ours cpu' is this process's CPU time for the page "
        "(what a busy machine inflates least); stmts = statements sent to the target for one "
        "page (max over runs; ours includes the gateway's SET TRANSACTION READ ONLY and "
        "set_config, and the reflection fingerprint check when it was due)."
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min) after the runs: {load} on {os.cpu_count()} CPUs")
    for scenario, timings in results:
        for problem in sorted(set(timings["ours"].problems)):
            count = timings["ours"].problems.count(problem)
            print(f"ours, {scenario.name}: {count} run(s) showed: {problem}")
    slow = [s.name for s, t in results if t["ours"].p(95) >= 50 or t["ours"].problems]
    print("goal ours p95 < 50 ms:", "met" if not slow else f"NOT met for {', '.join(slow)}")
    first = results[0][1]["ours"]
    fast = first.p(50) <= FIRST_PAGE_GOAL_MS and max(first.queries) <= 2
    print(
        f"goal first page p50 <= {FIRST_PAGE_GOAL_MS:.0f} ms with 2 statements (on a quiet "
        f"machine): {'met' if fast else 'NOT met'} here ({first.p(50):.1f} ms, cpu "
        f"{first.p(50, first.cpu_ms):.1f} ms, {max(first.queries)} statements)"
    )
    return not slow and fast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=50, help="runs of ours and sql per page")
    parser.add_argument("--admin-runs", type=int, default=5, help="0 skips the admin")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)

    environment = prepare_database(args.rows)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijkl")
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.data_admin.settings"
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from benchmarks.console_setup import migrate_console
    from core.pgcluster import Cluster

    migrate_console(Cluster(CLUSTER_DIR), DATABASE)  # the audit trail and operators
    found = facts(environment["TARGET_DATABASE_URL"])
    results = []
    for scenario in scenarios(found):
        print(f"measuring: {scenario.name}", file=sys.stderr)
        timings: dict[str, Timing] = {
            "ours": time_ours(scenario.ours, args.runs, args.warmup),
            "sql": time_sql(
                environment["TARGET_DATABASE_URL"],
                scenario.sql,
                scenario.sql_params,
                args.runs,
                args.warmup,
            ),
        }
        if args.admin_runs:
            timings["admin"] = time_admin(scenario.admin, args.admin_runs, 1)
        results.append((scenario, timings))
    met = print_table(results, {"ours": args.runs, "admin": args.admin_runs, "sql": args.runs})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
