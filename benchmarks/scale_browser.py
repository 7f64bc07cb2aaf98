"""The full ER diagram in a real browser: time to interactive, longest task, search and focus.

Serves the console from a thread of the measuring process (Django's threaded WSGI server, the
static files through WhiteNoise as in production), logs Chromium in with the measured
operator's session cookie and opens /schema/diagram, headless, through Playwright with the
system Chromium (once to warm the server's drawing, then measured in a fresh tab). Long tasks
are recorded from the very start (a PerformanceObserver added before the page's own scripts).
Time to interactive is the later of DOMContentLoaded's end and the end of the last long task (a
task over 50 ms, when the page cannot answer input) seen until the page has been quiet for
QUIET_MS; then it types a table name into the search box and waits for the answer, and checks
that focusing on the table highlighted its neighbours.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any

QUIET_MS = 1000
OBSERVE_LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__longTasks.push([entry.startTime, entry.duration]);
  }
}).observe({ type: "longtask", buffered: true });
"""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise RuntimeError("Chromium is not installed: apt-get install -y chromium (or set CHROMIUM)")


def serve() -> tuple[Any, str]:
    """Start the console on a free port in a thread; return the server and its base URL."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def diagram_time_to_interactive(client, facts: dict[str, Any]) -> dict[str, Any]:
    """Return the diagram page's time to interactive and how search and focus answered."""
    from playwright.sync_api import sync_playwright

    server, base = serve()
    cookie = client.cookies["sessionid"].value
    target = facts["table_page"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
            warm = context.new_page()  # the server draws the diagram once per schema version
            warm.goto(f"{base}/schema/diagram", wait_until="load", timeout=60_000)
            warm.close()
            page = context.new_page()
            page.add_init_script(OBSERVE_LONG_TASKS)
            page.goto(f"{base}/schema/diagram", wait_until="load", timeout=60_000)
            quiet_since = time.perf_counter()
            seen = 0
            while (time.perf_counter() - quiet_since) * 1000 < QUIET_MS:
                count = page.evaluate("window.__longTasks.length")
                if count != seen:
                    seen, quiet_since = count, time.perf_counter()
                time.sleep(0.05)
            timing = page.evaluate(
                """() => {
                  const nav = performance.getEntriesByType("navigation")[0];
                  const tasks = window.__longTasks;
                  const lastEnd = tasks.reduce((m, [s, d]) => Math.max(m, s + d), 0);
                  const longest = tasks.reduce((m, [, d]) => Math.max(m, d), 0);
                  return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                          lastEnd, longest, count: tasks.length, bytes: nav.transferSize,
                          decoded: nav.decodedBodySize,
                          boxes: document.querySelectorAll("g.erd-table").length};
                }"""
            )
            started = time.perf_counter()
            page.fill("#erd-search-input", target)
            page.press("#erd-search-input", "Enter")
            page.wait_for_selector(f'g.erd-table.erd-focus[data-table="{target}"]', timeout=10_000)
            search_ms = (time.perf_counter() - started) * 1000
            near = page.evaluate("document.querySelectorAll('g.erd-table.erd-near').length")
            browser.close()
    finally:
        server.shutdown()
    return {
        "tti_ms": max(timing["dcl"], timing["lastEnd"]),
        "dcl_ms": timing["dcl"],
        "load_ms": timing["load"],
        "longest_task_ms": timing["longest"],
        "long_tasks": timing["count"],
        "svg_kb": timing["decoded"] / 1024,
        "boxes": timing["boxes"],
        "search_ms": search_ms,
        "search_ok": True,
        "focus_ok": near > 0,
        "neighbours": near,
    }
