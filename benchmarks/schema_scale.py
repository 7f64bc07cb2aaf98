"""Benchmark: the console's pages at schema scale, not only row scale.

    .venv/bin/python -m benchmarks.schema_scale               # build once (minutes), measure
    .venv/bin/python -m benchmarks.schema_scale --runs 60 --skip-browser

Builds once (benchmarks/scale_build.py), in database `schemadesk_scale` of the persistent
cluster var/bench-pg, and reuses:
a target of 1,000 tables (benchmarks/scale_target.py: 300 owned by users through foreign-key
chains up to 4 deep, 200 lookup tables, 500 unrelated; about 1,500 foreign keys and 3,000+
indexes), an Alembic project of 500 revisions with branch points and merges
(benchmarks/scale_alembic.py, in var/scale-alembic; the database is 12 revisions behind) and
1,000,000 audit events forming a valid hash chain (benchmarks/scale_audit.py). The branches
page lists 200 branches of the fake Neon API (tests/fakes/neon_server.py), paginated.

For every page it measures, through the whole Django stack in-process (test Client; server
time from request to rendered response, streams read to the end):

- warm: p50/p95 over --runs requests after --warmup ones, in one long-lived process (the web
  worker), with the statements sent to the target and to Django's own schema;
- cold: the first request of a fresh process (a child process per page), which pays for
  reflecting the schema, loading the Alembic scripts and building the ownership map;

then the reflection itself (cold, and after a schema change with four requests at once: it
must run once, single-flight), the audit CSV export's rows per second, the web worker's peak
RSS, and the full ER diagram's time to interactive in Chromium (Playwright, system Chromium).
Each goal is printed as met or not. The machine's load average is printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.scale_build import AUDIT_EVENTS, BRANCHES, FACTS_FILE, ROOT, build, say

# Goals (issue 15).
GOAL_P95_MS = 300.0
GOAL_REFLECTION_S = 3.0
GOAL_RSS_MB = 300.0
GOAL_EXPORT_ROWS_S = 50_000
GOAL_TTI_MS = 2000.0


# -- measuring ---------------------------------------------------------------------------------
@dataclass
class Page:
    name: str
    url: str
    htmx: bool = False
    status: int = 200


def pages(facts: dict[str, Any]) -> list[Page]:
    subject, table = facts["subject"], facts["table_page"]
    return [
        Page("/schema/", "/schema/"),
        Page("/schema/<table>/ (depth-2 owned table)", f"/schema/{table}/"),
        Page("/schema/diagram (1,000 tables)", "/schema/diagram"),
        Page("/schema/<table>/erd.svg (neighbourhood)", f"/schema/{table}/erd.svg"),
        Page("/data/", "/data/"),
        Page("/data/<table>/ (depth-4 owned, 3,000 rows)", f"/data/{facts['data_table']}/"),
        Page("/users/ownership/", "/users/ownership/"),
        Page("/users/isolation/", "/users/isolation/"),
        Page("/users/isolation/ report (htmx)", "/users/isolation/", htmx=True),
        Page("/users/u/<id>/ (300 linked tables)", f"/users/u/{subject}/"),
        Page(
            "/users/u/<id>/?table= card (htmx)",
            f"/users/u/{subject}/?table={facts['card_table']}",
            htmx=True,
        ),
        Page("/migrations/ (500 revisions)", "/migrations/"),
        Page(
            "/migrations/?page=5 history graph (htmx)",
            "/migrations/?page=5&part=history",
            htmx=True,
        ),
        Page("/migrations/revisions/<merge>/", f"/migrations/revisions/{facts['revision']}/"),
        Page("/branches/ (200 Neon branches)", "/branches/"),
        Page("/audit/ (1M events)", "/audit/"),
        Page("/audit/?subject= (busiest end-user)", f"/audit/?subject={subject}"),
        Page("/audit/?action=user.view", "/audit/?action=user.view"),
        Page("/audit/ page 1,000", f"/audit/?after={facts['audit_after']}"),
    ]


def chosen_pages(facts: dict[str, Any], wanted: list[str] | None) -> list[Page]:
    """Return the pages whose name contains one of `wanted` (all of them without it)."""
    return [
        page for page in pages(facts) if not wanted or any(part in page.name for part in wanted)
    ]


@dataclass
class Timing:
    name: str
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time per request
    target: list[int] = field(default_factory=list)
    django: list[int] = field(default_factory=list)
    cold_ms: float | None = None
    cold_target: int | None = None

    def p(self, q: int, values: list[float] | None = None) -> float:
        ordered = sorted(self.times_ms if values is None else values)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]

    @staticmethod
    def spread(values: list[int]) -> str:
        if not values:
            return "-"
        low, high = min(values), max(values)
        return str(low) if low == high else f"{low}-{high}"


class StatementCounter:
    """Counts statements sent to the target (SQLAlchemy) and to Django's own schema."""

    def __init__(self) -> None:
        from dashboard.target import engine

        self.target = 0
        self._engine = engine()

    def __enter__(self) -> StatementCounter:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from sqlalchemy import event

        self.target = 0
        event.listen(self._engine, "before_cursor_execute", self._count)
        self._django = CaptureQueriesContext(connection)
        self._django.__enter__()
        return self

    def _count(self, *args: object) -> None:
        self.target += 1

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        self._django.__exit__(*exc)
        event.remove(self._engine, "before_cursor_execute", self._count)

    @property
    def django(self) -> int:
        return len(self._django)


def logged_in_client(facts: dict[str, Any]):
    """Return a test Client of the admin operator with reasons given (no view called)."""
    from django.contrib.auth import get_user_model
    from django.test import Client, RequestFactory

    from dashboard.users import gate

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    gate.remember_reason(request, gate.BROWSING, "BENCH-15 schema scale")
    gate.remember_reason(request, gate.for_user("users", facts["subject"]), "BENCH-15 schema scale")
    session.save()
    return client


def request(client, page: Page) -> Callable[[], Any]:
    headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}

    def call():
        response = client.get(page.url, **headers)
        assert response.status_code == page.status, (page.url, response.status_code)
        if response.streaming:
            for _ in response.streaming_content:
                pass
        return response

    return call


def fake_neon():
    """Start the fake Neon API with BRANCHES branches and point the console at it."""
    from tests.fakes.neon_server import FakeNeon

    fake = FakeNeon().__enter__()
    for number in range(BRANCHES - 1):
        fake.add_branch(f"preview/pr-{number + 1:04d}", with_endpoint=number % 4 == 0)
    os.environ.update(
        {
            "NEON_API_URL": fake.base_url,
            "NEON_PROJECT_ID": fake.project_id,
            "NEON_API_KEY": fake.api_key,
        }
    )
    from django.conf import settings

    settings.NEON_API_URL = fake.base_url
    settings.NEON_PROJECT_ID = fake.project_id
    return fake


def cold_child(name: str, out: Path) -> int:
    """Time the first request of page `name` in this fresh process (or the reflection alone)."""
    import django

    django.setup()
    facts = json.loads(FACTS_FILE.read_text())
    fake = fake_neon()
    client = logged_in_client(facts)
    result: dict[str, Any] = {}
    if name == "reflection":
        from dashboard.schema.reflection import reflection

        started = time.perf_counter()
        reflected = reflection()
        result = {"ms": (time.perf_counter() - started) * 1000, "tables": len(reflected.tables)}
    else:
        page = next(p for p in pages(facts) if p.name == name)
        call = request(client, page)
        with StatementCounter() as counted:
            started = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - started) * 1000
        result = {"ms": elapsed, "target": counted.target}
    fake.__exit__(None, None, None)
    out.write_text(json.dumps(result))
    return 0


def measure_warm(client, page: Page, runs: int, warmup: int) -> Timing:
    call = request(client, page)
    for _ in range(warmup):
        call()
    timing = Timing(page.name)
    for _ in range(runs):
        with StatementCounter() as counted:
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            timing.times_ms.append((time.perf_counter() - started) * 1000)
            timing.cpu_ms.append((time.process_time() - cpu_started) * 1000)
        timing.target.append(counted.target)
        timing.django.append(counted.django)
    return timing


def reflection_after_change(facts: dict[str, Any], concurrent: int = 4) -> dict[str, Any]:
    """Change the schema, then send `concurrent` requests at once; return the time and how
    many reflections ran (single-flight: one)."""
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    from dashboard.schema import reflection as module

    reflected: list[float] = []
    original = module._reflect

    def counting(conn, schema):
        started = time.perf_counter()
        try:
            return original(conn, schema)
        finally:
            reflected.append(time.perf_counter() - started)

    module._reflect = counting
    owner = os.environ["APP_DIRECT_URL"]
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(
            f"ALTER TABLE {facts['data_table']} ADD COLUMN IF NOT EXISTS "
            f"bench_change_{int(time.time())} integer"
        )
    time.sleep(float(getattr(settings, "REFLECTION_CHECK_SECONDS", 10)) + 0.2)
    cookie = logged_in_client(facts).cookies
    times: list[float] = []

    def one() -> None:
        client = Client()
        client.cookies = cookie
        started = time.perf_counter()
        response = client.get(f"/data/{facts['data_table']}/")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    module._reflect = original
    return {
        "reflections": len(reflected),
        "reflect_ms": max(reflected) * 1000 if reflected else 0.0,
        "slowest_request_ms": max(times),
    }


def export_rate(client) -> dict[str, Any]:
    """Return the audit CSV export's rows and rows per second (the whole trail, streamed)."""
    started = time.perf_counter()
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    rows = -1  # the header
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def measure_child(args: argparse.Namespace, out: Path) -> int:
    import django

    django.setup()
    facts = json.loads(FACTS_FILE.read_text())
    fake = fake_neon()
    client = logged_in_client(facts)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "pages": []}
    for page in chosen_pages(facts, args.pages):
        say(f"measuring (warm): {page.name}")
        results["pages"].append(asdict(measure_warm(client, page, args.runs, args.warmup)))
    if not args.skip_change:
        say("measuring: reflection after a schema change, 4 requests at once")
        results["after_change"] = reflection_after_change(facts)
    if not args.skip_export:
        say("measuring: audit CSV export (the whole trail)")
        results["export"] = export_rate(client)
    if not args.skip_browser:
        from benchmarks.scale_browser import diagram_time_to_interactive

        say("measuring: the full diagram in Chromium")
        results["browser"] = diagram_time_to_interactive(client, facts)
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_after"] = os.getloadavg()
    fake.__exit__(None, None, None)
    out.write_text(json.dumps(results))
    return 0


def run_child(*extra: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        subprocess.run(
            [sys.executable, "-m", "benchmarks.schema_scale", *extra, "--out", str(out)],
            check=True,
            cwd=ROOT,
        )
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# -- the report --------------------------------------------------------------------------------
def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def report(
    facts: dict[str, Any],
    counts: dict[str, int],
    warm: dict[str, Any],
    cold: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> bool:
    timings = [Timing(**page) for page in warm["pages"]]
    width = max(len(t.name) for t in timings)
    print()
    print(
        f"target: {counts['tables']:,} tables, {counts['columns']:,} columns, "
        f"{counts['foreign_keys']:,} foreign keys, {counts['indexes']:,} indexes; "
        f"500 Alembic revisions; {BRANCHES} Neon branches (fake API, paginated); "
        f"{AUDIT_EVENTS:,}+ audit events"
    )
    load_before, load_after = warm["load_before"], warm["load_after"]
    print(
        f"load average (1, 5, 15 min) before: {', '.join(f'{v:.1f}' for v in load_before)}; "
        f"after: {', '.join(f'{v:.1f}' for v in load_after)} on {os.cpu_count()} CPUs"
    )
    print(f"warm: {args.runs} requests per page after {args.warmup}; cold: a fresh process's first")
    head = (
        f"{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'cpu p50':>8}  {'cold ms':>8}  "
        f"{'target stmts':>12}  {'django stmts':>12}  goal"
    )
    print(head)
    print("-" * len(head))
    slow = []
    for timing in timings:
        first = cold.get(timing.name, {})
        cold_ms = f"{first['ms']:8.0f}" if first else f"{'-':>8}"
        met = timing.p(95) <= GOAL_P95_MS
        if not met:
            slow.append(timing.name)
        print(
            f"{timing.name:<{width}}  {timing.p(50):8.1f}  {timing.p(95):8.1f}  "
            f"{timing.p(50, timing.cpu_ms) if timing.cpu_ms else float('nan'):8.1f}  {cold_ms}  "
            f"{Timing.spread(timing.target):>12}  {Timing.spread(timing.django):>12}  "
            f"{verdict(met)}"
        )
    print()
    ok = not slow
    print(f"every page p95 <= {GOAL_P95_MS:.0f} ms warm: {verdict(not slow)}")
    reflection = cold.get("reflection")
    after = warm.get("after_change")
    if reflection and after:
        met = (
            reflection["ms"] <= GOAL_REFLECTION_S * 1000
            and after["reflect_ms"] <= GOAL_REFLECTION_S * 1000
        )
        ok &= met
        print(
            f"first reflection after start: {reflection['ms'] / 1000:.2f} s "
            f"({reflection['tables']:,} tables); after a schema change: "
            f"{after['reflect_ms'] / 1000:.2f} s; goal <= {GOAL_REFLECTION_S:.0f} s: {verdict(met)}"
        )
    if after:
        single = after["reflections"] == 1
        ok &= single
        print(
            f"reflections while 4 requests arrived at once after a schema change: "
            f"{after['reflections']} (slowest of them {after['slowest_request_ms']:.0f} ms); "
            f"single-flight: {verdict(single)}"
        )
    user_page = next((t for t in timings if t.name.startswith("/users/u/<id>/ (")), None)
    if user_page:
        print(
            f"user page statements with 300 linked tables: {Timing.spread(user_page.target)} "
            "(bounded by the cards shown; tests/dashboard/users/test_views.py pins it)"
        )
    if args.pages:
        print(
            "only the pages named by --pages were measured (no reflection after a change, "
            "export or browser measurement): the goals above are these pages' only"
        )
    rss = warm["rss_mb"]
    ok &= rss < GOAL_RSS_MB
    met = rss < GOAL_RSS_MB
    print(f"web worker peak RSS: {rss:.0f} MB; goal < {GOAL_RSS_MB:.0f} MB: {verdict(met)}")
    if "export" in warm:
        export = warm["export"]
        met = export["rows_per_s"] >= GOAL_EXPORT_ROWS_S
        ok &= met
        print(
            f"audit CSV export: {export['rows']:,} rows in {export['seconds']:.1f} s = "
            f"{export['rows_per_s']:,.0f} rows/s; goal >= {GOAL_EXPORT_ROWS_S:,}: {verdict(met)}"
        )
    if "browser" in warm:
        browser = warm["browser"]
        met = browser["tti_ms"] <= GOAL_TTI_MS and browser["search_ok"] and browser["focus_ok"]
        ok &= met
        print(
            f"full diagram in Chromium: time to interactive {browser['tti_ms']:.0f} ms "
            f"(longest task {browser['longest_task_ms']:.0f} ms, {browser['svg_kb']:.0f} kB); "
            f"search answers in {browser['search_ms']:.0f} ms; focus on a table: "
            f"{'works' if browser['focus_ok'] else 'FAILS'}; goal <= {GOAL_TTI_MS:.0f} ms: "
            f"{verdict(met)}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument(
        "--pages",
        action="append",
        metavar="TEXT",
        help="measure only the pages whose name contains TEXT (repeatable), e.g. '/users/u/'; "
        "skips the reflection after a change, the export and the browser",
    )
    parser.add_argument("--skip-change", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.cold:
        return cold_child(args.cold, Path(args.out))
    if args.measure:
        return measure_child(args, Path(args.out))

    facts = build(args.rebuild)
    from benchmarks.scale_target import target_counts

    counts = target_counts(os.environ["TARGET_DATABASE_URL"])
    cold: dict[str, dict[str, Any]] = {}
    if not args.skip_cold:
        chosen = [page.name for page in chosen_pages(facts, args.pages)]
        for name in chosen if args.pages else ["reflection", *chosen]:
            say(f"measuring (cold): {name}")
            cold[name] = run_child("--cold", name)
    passed = ["--runs", str(args.runs), "--warmup", str(args.warmup)]
    passed += [
        flag
        for flag, on in (
            ("--skip-browser", args.skip_browser or bool(args.pages)),
            ("--skip-export", args.skip_export or bool(args.pages)),
            ("--skip-change", bool(args.pages)),
        )
        if on
    ]
    passed += [f"--pages={text}" for text in args.pages or ()]
    warm = run_child("--measure", *passed)
    ok = report(facts, counts, warm, cold, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
