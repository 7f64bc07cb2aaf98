"""Benchmark: the support view's user page for a heavy end-user in a big database.

    .venv/bin/python -m benchmarks.user_page                # build (or reuse) and measure
    .venv/bin/python -m benchmarks.user_page --runs 300

Uses the persistent embedded cluster in var/bench-pg (database `schemadesk_bench`, the production
layout, the Alembic head), shared with benchmarks.data_pages: 1 million users and 10 million
tasks written by `core.datagen` (the same seed and anchor as that benchmark, so whichever runs
first builds the data and the other reuses it), plus one heavy user written by
`core.datagen`'s heavy-user option: 10,000 tasks and 200 conversations of 50 messages.

Each scenario goes through the whole Django stack in-process (test Client: sessions, login,
CSP and htmx middleware, the view, the audit event it writes, the template), timed from the
request to the rendered response. For each it prints p50/p95 over the runs, the statements
sent to the target (a SQLAlchemy `before_cursor_execute` listener on `dashboard.target.engine()`)
and the statements sent to Django's own schema. The goal: the user page under 100 ms at p95,
with a number of target statements that depends on the number of tables, not of rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DIR = ROOT / "var" / "bench-pg"
DATABASE = "schemadesk_bench"
ANCHOR = date(2025, 6, 30)  # the same as benchmarks.data_pages: the same rows
USERS = 1_000_000
TASKS = 10_000_000
HEAVY_USER = "user_bench_heavy"
GOAL_MS = 100.0


# -- the database ------------------------------------------------------------------------------
def prepare_database() -> dict[str, str]:
    """Start the cluster, lay out the database, make sure the data is there; return its env."""
    from core.embedded import prepare
    from core.pgcluster import Cluster

    cluster = Cluster(CLUSTER_DIR)
    print(cluster.start(), file=sys.stderr)
    environment = prepare(cluster, DATABASE).environment()
    os.environ.update(environment)
    _migrate_target()
    owner = environment["APP_DIRECT_URL"]
    with psycopg.connect(owner, autocommit=True) as conn:
        tasks = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.tasks'::regclass"
        ).fetchone()[0]  # type: ignore[index]  # one row
        heavy = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE user_id = %s)", (HEAVY_USER,)
        ).fetchone()[0]  # type: ignore[index]  # one row
    if tasks < TASKS * 0.99 or not heavy:
        _generate(owner, build_dataset=tasks < TASKS * 0.99)
    return environment


def _migrate_target() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")


def _generate(owner_url: str, build_dataset: bool) -> None:
    from core import datagen

    counts = datagen.Counts(users=USERS, tasks=TASKS, conversations=0, messages=0)
    heavy = datagen.HeavyUser(
        HEAVY_USER, tasks=10_000, conversations=200, messages_per_conversation=50
    )
    what = "1M users, 10M tasks and the heavy user" if build_dataset else "the heavy user"
    print(f"writing {what} (the dataset takes minutes, once)", file=sys.stderr)
    with psycopg.connect(owner_url) as conn:
        report = datagen.generate(
            conn,
            counts,
            seed=42,
            anchor=ANCHOR,
            heavy=heavy,
            progress=datagen.Progress(enabled=True),
        )
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # Set the visibility map, so counts are index-only scans as on a vacuumed database.
        conn.execute("VACUUM (ANALYZE) users, tasks, conversations, messages")
    print(f"wrote {sum(report.rows.values()):,} rows in {report.seconds:.0f}s", file=sys.stderr)


def ordinary_user(owner_url: str) -> tuple[str, int]:
    """Return a user with a typical number of tasks (about the median), and that number."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT user_id, count(*) FROM tasks "
            "WHERE user_id = (SELECT id FROM users ORDER BY id OFFSET 500000 LIMIT 1) "
            "GROUP BY user_id"
        ).fetchone()
    return (row[0], row[1]) if row else ("nobody", 0)


def heavy_email(owner_url: str) -> str:
    with psycopg.connect(owner_url, autocommit=True) as conn:
        return conn.execute("SELECT email FROM users WHERE id = %s", (HEAVY_USER,)).fetchone()[0]  # type: ignore[index]  # seeded


# -- measuring ---------------------------------------------------------------------------------
@dataclass
class Timing:
    name: str
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time per request
    target_statements: list[int] = field(default_factory=list)
    django_statements: list[int] = field(default_factory=list)

    def p(self, q: int, values: list[float] | None = None) -> float:
        ordered = sorted(self.times_ms if values is None else values)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]

    @staticmethod
    def spread(values: list[int]) -> str:
        low, high = min(values), max(values)
        return str(low) if low == high else f"{low}-{high}"


def measure(name: str, request: Callable[[], object], runs: int, warmup: int = 3) -> Timing:
    """Return the timings of `runs` calls of `request` (after a few untimed ones)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from sqlalchemy import event

    from dashboard.target import engine

    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    for _ in range(warmup):
        request()
    timing = Timing(name)
    event.listen(engine(), "before_cursor_execute", count)
    try:
        for _ in range(runs):
            seen.clear()
            with CaptureQueriesContext(connection) as django_queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                request()
                timing.times_ms.append((time.perf_counter() - started) * 1000)
                timing.cpu_ms.append((time.process_time() - cpu_started) * 1000)
            timing.target_statements.append(len(seen))
            timing.django_statements.append(len(django_queries))
    finally:
        event.remove(engine(), "before_cursor_execute", count)
    return timing


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def get(client, url: str, expect: int = 200, **headers):
    """Return a GET whose body is fully produced (streams are read to the end)."""

    def call():
        response = client.get(url, **headers)
        assert response.status_code == expect, (url, response.status_code)
        if response.streaming:
            for _ in response.streaming_content:
                pass
        return response

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--export-runs", type=int, default=10)
    args = parser.parse_args(argv)

    environment = prepare_database()
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijkl")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ["DEBUG"] = "false"
    os.environ["USERS_TABLE"] = ""  # detect, as a fresh install would
    import django

    django.setup()
    from django.test import Client

    from benchmarks.console_setup import migrate_console
    from core.pgcluster import Cluster

    migrate_console(Cluster(CLUSTER_DIR), DATABASE)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    operator, _ = get_user_model().objects.get_or_create(username="bench-support")
    operator.groups.add(Group.objects.get_or_create(name="support")[0])
    client = Client()
    client.force_login(operator)

    owner = environment["APP_DIRECT_URL"]
    typical, typical_tasks = ordinary_user(owner)
    email = heavy_email(owner)
    for subject in (HEAVY_USER, typical):
        client.post(f"/users/u/{subject}/", {"reason": "BENCH-1 benchmark"})
    client.post("/users/reason/", {"reason": "BENCH-1 benchmark"})  # searching needs one too
    htmx: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
    load_before = load_average()

    timings = [
        measure(
            f"user page: {HEAVY_USER} (10,000 tasks, 200 conversations, 10,000 messages)",
            get(client, f"/users/u/{HEAVY_USER}/"),
            args.runs,
        ),
        measure(
            f"user page: {typical} ({typical_tasks} tasks)",
            get(client, f"/users/u/{typical}/"),
            args.runs,
        ),
        measure(
            "table card partial (htmx): tasks of the heavy user",
            get(client, f"/users/u/{HEAVY_USER}/?table=tasks", **htmx),
            args.runs,
        ),
        measure("find: exact email (redirect)", get(client, f"/users/?q={email}", 302), args.runs),
        measure(
            "find: exact email, other case", get(client, f"/users/?q={email.upper()}", 302), 20
        ),
        measure(
            "find: unknown email (scans: no index on lower(email))",
            get(client, "/users/?q=Nobody.Here@Example.com"),
            20,
        ),
        measure("find: email prefix", get(client, "/users/?q=sofia.k"), args.runs),
        measure("find: id prefix", get(client, "/users/?q=user_0a"), args.runs),
        measure(
            "export: heavy user, whole JSON document (~20,000 rows)",
            get(client, f"/users/export/{HEAVY_USER}/"),
            args.export_runs,
            warmup=1,
        ),
    ]

    width = max(len(t.name) for t in timings)
    print()
    print(
        f"database: {USERS:,} users, {TASKS:,} tasks + heavy user; runs per scenario: {args.runs}"
    )
    # The wall time includes waiting for the databases and for the CPU when the machine is
    # busy; "cpu p50" is this process's own CPU time, the part no database or neighbour adds.
    print(f"load average (1, 5, 15 min) before: {load_before}; after: {load_average()}")
    heads = ("p50 ms", "p95 ms", "cpu p50", "target stmts", "django stmts")
    print(
        f"{'scenario':<{width}}  {heads[0]:>8}  {heads[1]:>8}  {heads[2]:>8}  "
        f"{heads[3]:>12}  {heads[4]:>12}"
    )
    print("-" * (width + 60))
    for t in timings:
        print(
            f"{t.name:<{width}}  {t.p(50):8.1f}  {t.p(95):8.1f}  {t.p(50, t.cpu_ms):8.1f}  "
            f"{Timing.spread(t.target_statements):>12}  {Timing.spread(t.django_statements):>12}"
        )
    page = timings[0]
    verdict = "meets" if page.p(95) < GOAL_MS else "MISSES"
    print(f"\nheavy user page p95 {page.p(95):.1f} ms {verdict} the {GOAL_MS:.0f} ms goal")
    print(f"({os.cpu_count()} CPUs; a load average above that means requests waited for a CPU)")
    return 0 if page.p(95) < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
