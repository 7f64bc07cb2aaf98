"""Benchmark: server time of the slow-query page with 5,000 distinct statements recorded.

Starts a throwaway embedded PostgreSQL cluster (or reuses a persistent one with --root), fills
pg_stat_statements with distinct statement shapes run against a scratch table, then requests
the page in-process through Django's test client and prints p50/p95/max per scenario against
the goal.

    .venv/bin/python benchmarks/slow_queries_page.py [--statements 5000] [--requests 40]
                                                     [--root var/bench-pg] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded import Layout, prepare  # noqa: E402
from core.netports import free_port  # noqa: E402
from core.pgcluster import Cluster  # noqa: E402

GOAL_MS = 150.0
DATABASE = "schemadesk_bench"
COLUMNS = [f"c{n}" for n in range(12)]


def statement_shapes(count: int) -> list[str]:
    """Return `count` statements that pg_stat_statements records as distinct entries."""
    shapes: list[str] = []
    for width in range(1, len(COLUMNS) + 1):
        for chosen in combinations(COLUMNS, width):
            for where in ("c0 = %s", "c1 > %s", "c2 BETWEEN %s AND %s + 10"):
                shapes.append(f"SELECT {', '.join(chosen)} FROM bench_stmt WHERE {where}")
                if len(shapes) == count:
                    return shapes
    raise ValueError(f"only {len(shapes)} shapes available")


def fill_statements(layout: Layout, count: int) -> int:
    """Run `count` distinct statements on the target; return how many entries it now holds."""
    import psycopg

    url = layout.url("todo_owner")
    with psycopg.connect(url, autocommit=True) as conn:
        columns = ", ".join(f"{name} int" for name in COLUMNS)
        conn.execute("DROP TABLE IF EXISTS bench_stmt")
        conn.execute(f"CREATE TABLE bench_stmt (id serial PRIMARY KEY, {columns})")
        values = ", ".join(f"(g * {n + 1}) % 97" for n in range(len(COLUMNS)))
        conn.execute(
            f"INSERT INTO bench_stmt ({', '.join(COLUMNS)}) "
            f"SELECT {values} FROM generate_series(1, 2000) AS g"
        )
        conn.execute("ANALYZE bench_stmt")
        started = time.perf_counter()
        for number, shape in enumerate(statement_shapes(count)):
            params = (number % 97,) * shape.count("%s")
            for _ in range(1 + number % 3):  # a few calls each, so sorts have something to do
                conn.execute(shape, params).fetchall()
        print(f"ran {count} statement shapes in {time.perf_counter() - started:.1f} s")
        return conn.execute(
            "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database()"
        ).fetchone()[0]  # type: ignore[index]  # count(*) answers one row


def configure_django(layout: Layout, cluster: Cluster) -> None:
    """Point Django at the prepared database and apply its migrations (audit owner lent)."""
    os.environ.update(layout.environment())
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.setdefault("SECURE_COOKIES", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    from benchmarks.console_setup import migrate_console

    django.setup()
    migrate_console(cluster, layout.dbname)


def measure(client, path: str, requests: int, **headers: str) -> list[float]:
    """Return the server time (ms) of `requests` GETs of `path`, after warming up."""
    for _ in range(3):
        response = client.get(path, **headers)
        assert response.status_code == 200, (path, response.status_code)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--root", help="a persistent cluster folder (default: throwaway)")
    parser.add_argument("--keep", action="store_true", help="do not destroy the cluster")
    args = parser.parse_args(argv)

    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="schemadesk-bench-pg-"))
    cluster = Cluster(root, ephemeral=not args.root)
    print(cluster.start(port=cluster.port or free_port()))
    try:
        layout = prepare(cluster, DATABASE)
        with __import__("psycopg").connect(cluster.superuser_url(DATABASE), autocommit=True) as su:
            su.execute("SELECT pg_stat_statements_reset()")
        entries = fill_statements(layout, args.statements)
        configure_django(layout, cluster)

        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.test import Client

        user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
        user.groups.add(Group.objects.get_or_create(name="viewer")[0])
        client = Client()
        client.force_login(user)

        scenarios = [
            ("by total time (default)", "/queries/", {}),
            ("by mean time", "/queries/?sort=mean", {}),
            ("by calls, page 20", "/queries/?sort=calls&page=20", {}),
            ("text filter 'c7, c9'", "/queries/?q=c7%2C+c9", {}),
            ("min calls + min mean", "/queries/?min_calls=2&min_mean=0.001", {}),
            ("htmx partial, by rows", "/queries/?sort=rows", {"HTTP_HX_REQUEST": "true"}),
        ]
        print(f"\npg_stat_statements entries in {DATABASE}: {entries}")
        print(f"{args.requests} requests per scenario, in-process (Django test client)")
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} on {os.cpu_count()} CPUs (a busy machine inflates these)\n")
        header = (
            f"{'scenario':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal {GOAL_MS:.0f} ms"
        )
        print(header)
        print("-" * len(header))
        worst = 0.0
        for label, path, headers in scenarios:
            timings = measure(client, path, args.requests, **headers)
            p50, p95 = statistics.median(timings), percentile(timings, 0.95)
            worst = max(worst, p95)
            verdict = "ok" if p95 < GOAL_MS else "SLOW"
            print(f"{label:<28} {p50:>8.1f} {p95:>8.1f} {max(timings):>8.1f}  {verdict}")
        print(f"\nworst p95: {worst:.1f} ms -> {'PASS' if worst < GOAL_MS else 'FAIL'}")
        return 0 if worst < GOAL_MS else 1
    finally:
        if args.keep or args.root:
            print(f"cluster kept in {root}")
        else:
            cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
