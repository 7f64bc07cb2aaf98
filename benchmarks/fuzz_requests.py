"""Benchmark: a long property-based fuzz of every route, printing the status histogram.

    .venv/bin/python -m benchmarks.fuzz_requests [--examples 150] [--seed 1] [--root DIR] [--keep]

Starts a throwaway embedded PostgreSQL cluster (or reuses --root), lays out the production
roles and schemas, applies the Alembic head, adds the fuzzed tables of tests/request_fuzz.py
(ordinary ones and ones named `fz/odd 50% ?#'"ünï` and `fz_line<LF>break`, a users table with
odd ids) and records a few statements in pg_stat_statements. Then, as an administrator who
gave a reason for each end-user, it sends Hypothesis-generated requests to every route of the
URL resolver through the whole Django stack in-process (test Client; each request commits, as
in production): real and hostile path values and the parameters each view reads. It prints,
per route and overall, how many answers fell in each status class and which statuses came
back; every 5xx or traceback is listed with its request. The bar: 0 x 5xx.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import slow_queries_page  # noqa: E402
from core.embedded import Layout, prepare  # noqa: E402
from core.netports import free_port  # noqa: E402
from core.pgcluster import Cluster  # noqa: E402

DATABASE = "schemadesk_bench_fuzz"


def configure_django(layout: Layout, cluster: Cluster) -> None:
    """Point Django at the cluster (as the slow-query benchmark does), the target at the head;
    Django's migrations run with the audit owner lent, as `make demo` runs them."""
    from alembic import command
    from alembic.config import Config

    os.environ.update(layout.environment())
    os.environ["LOG_LEVEL"] = "CRITICAL"  # refusals are logged as warnings by design
    os.environ["DEBUG"] = "false"
    os.environ["BRANCH_PROVIDER"] = "local"
    os.environ["USERS_TABLE"] = "fz_users"
    # The row change pages too, as in the suite's fuzz (no forged digest applies a change).
    os.environ["DATA_WRITES_ENABLED"] = "true"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")
    slow_queries_page.configure_django(layout, cluster)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150, help="requests per route (at most)")
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (reproducible run)")
    parser.add_argument("--root", help="a persistent cluster folder (default: throwaway)")
    parser.add_argument("--keep", action="store_true", help="do not destroy the cluster")
    args = parser.parse_args(argv)

    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="schemadesk-fuzz-pg-"))
    cluster = Cluster(root, ephemeral=not args.root)
    print(cluster.start(port=cluster.port or free_port()), file=sys.stderr)
    try:
        layout = prepare(cluster, DATABASE)
        configure_django(layout, cluster)
        return run(layout, cluster, args.examples, args.seed)
    finally:
        if args.keep or args.root:
            print(f"cluster kept in {root}", file=sys.stderr)
        else:
            cluster.destroy()


def run(layout: Layout, cluster: Cluster, examples: int, seed_value: int) -> int:
    import psycopg
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from dashboard.jobs.models import JobRun
    from dashboard.schema import reflection
    from tests import request_fuzz as fuzz
    from tests.fuzz_strategies import World

    owner = layout.environment()["APP_DIRECT_URL"]

    def owner_execute(sql: str, params: tuple | None = None) -> None:
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(sql, params)

    fuzz.create_schema(owner_execute)
    for sql, params in fuzz.RECORDED:
        owner_execute(sql, params)
    reflection.invalidate()
    with psycopg.connect(cluster.superuser_url(DATABASE), autocommit=True) as su:
        queryids = [
            row[0]
            for row in su.execute(
                "SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT id FROM fz_%'"
            )
        ]
        pids = [row[0] for row in su.execute("SELECT pid FROM pg_stat_activity LIMIT 3")]

    operator, _ = get_user_model().objects.get_or_create(username="fuzz-admin")
    operator.groups.add(Group.objects.get_or_create(name="admin")[0])
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    for subject in fuzz.SUBJECTS:
        client.post(reverse("users:detail", args=[subject]), {"reason": "FUZZ-1 hostile input"})
    client.post(reverse("users:reason"), {"reason": "FUZZ-1 browsing"})  # user-owned tables
    client.post(reverse("health_check_start"))
    columns, keys = fuzz.reflected_columns()
    world = World(
        columns=columns,
        keys=keys,
        subjects=list(fuzz.SUBJECTS),
        queryids=queryids,
        revisions=["0001", "0002", "0003"],
        job_ids=list(JobRun.objects.values_list("pk", flat=True)),
        pids=pids,
        rows=fuzz.key_samples(keys),
    )

    histograms: dict[str, Counter[int]] = {}
    failures: list[str] = []
    started = time.perf_counter()
    for route in fuzz.routes():
        statuses: Counter[int] = Counter()
        histograms[route.name] = statuses
        fuzz_route(route, world, client, statuses, failures, examples, seed_value)
        print(f"{route.name:<28} {sum(statuses.values()):>5} requests", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print_report(histograms, failures, elapsed, examples, seed_value)
    return 1 if failures else 0


def fuzz_route(
    route: Any,
    world: Any,
    client: Any,
    statuses: Counter[int],
    failures: list[str],
    examples: int,
    seed_value: int,
) -> None:
    """Send up to `examples` generated requests to `route`, counting statuses and problems."""
    from hypothesis import given, seed, settings
    from hypothesis import strategies as st

    from tests import request_fuzz as fuzz

    @seed(seed_value)
    @settings(settings.get_profile("request-fuzz-long"), max_examples=examples)
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        request = data.draw(fuzz.requests_for(route, world))
        try:
            status, body = fuzz.send(client, request)
        except Exception as exc:  # a streamed body that failed half-way
            status, body = 599, f"{type(exc).__name__}: {exc}"
        statuses[status] += 1
        for problem in fuzz.problems(status, body):
            failures.append(f"{route.name}: {request} -> {problem}")

    one()


def print_report(
    histograms: dict[str, Counter[int]],
    failures: list[str],
    elapsed: float,
    examples: int,
    seed_value: int,
) -> None:
    total: Counter[int] = Counter()
    for statuses in histograms.values():
        total.update(statuses)
    requests = sum(total.values())
    print(
        f"\n{requests:,} requests over {len(histograms)} routes in {elapsed:.0f} s "
        f"(at most {examples} per route, Hypothesis seed {seed_value})\n"
    )
    head = f"{'route':<28} {'requests':>8} {'2xx':>6} {'3xx':>6} {'4xx':>6} {'5xx':>5}  statuses"
    print(head)
    print("-" * (len(head) + 30))
    for name, statuses in [*histograms.items(), ("all routes", total)]:
        if name == "all routes":
            print("-" * (len(head) + 30))
        classes: Counter[int] = Counter()
        for status, count in statuses.items():
            classes[status // 100] += count
        listed = " ".join(f"{status}x{count}" for status, count in sorted(statuses.items()))
        print(
            f"{name:<28} {sum(statuses.values()):>8} {classes[2]:>6} {classes[3]:>6} "
            f"{classes[4]:>6} {classes[5]:>5}  {listed}"
        )
    print(f"\n5xx or traceback: {len(failures)}")
    for line in failures[:50]:
        print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
