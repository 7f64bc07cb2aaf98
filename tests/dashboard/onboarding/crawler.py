"""Log in to a running console over HTTP and visit every page linked from the Overview on."""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

LINK = re.compile(r'(?:href|hx-get)="([^"]+)"')
NUMBER = re.compile(r"-?\d+")
PER_SHAPE = 4  # pages of one shape (/queries/<id>/, ?page=N) after which the rest are skipped
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SKIP = ("/logout/", "/static/")


@dataclass
class Crawl:
    """Every page visited with its status, and the pages that failed."""

    visited: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def logged_in_client(base: str, username: str, password: str) -> httpx.Client:
    """Return a client holding an operator's session (the login form, CSRF token and all)."""
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = client.get("/login/")
    token = CSRF.search(form.text)
    assert token, form.text[:500]
    answer = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
    )
    assert answer.status_code == 302, f"login failed: {answer.status_code} {answer.text[:300]}"
    return client


def shape(link: str) -> str:
    """Return the link with numbers and query values blanked: one kind of page."""
    parts = urlsplit(link)
    keys = sorted(item.split("=", 1)[0] for item in parts.query.split("&") if item)
    return NUMBER.sub("N", parts.path) + "?" + "&".join(keys)


def crawl(client: httpx.Client, start: str = "/", limit: int = 400) -> Crawl:
    """Visit pages breadth-first from `start` (same site, GET only); return what was seen.

    A few pages of each shape are visited (four statements, not five hundred).
    """
    result = Crawl()
    queue = deque([start])
    shapes: dict[str, int] = {}
    while queue and len(result.visited) < limit:
        path = queue.popleft()
        if path in result.visited:
            continue
        kind = shape(path)
        if shapes.get(kind, 0) >= PER_SHAPE:
            continue
        shapes[kind] = shapes.get(kind, 0) + 1
        response = client.get(path)
        result.visited[path] = response.status_code
        if response.status_code >= 400 or "Traceback" in response.text:
            result.failures.append(f"{response.status_code} {path}")
            continue
        if response.status_code in (301, 302, 303, 307, 308):
            location = response.headers.get("location", "")
            if location.startswith("/"):
                queue.append(location)
            continue
        if "html" not in response.headers.get("content-type", ""):
            continue
        for raw in LINK.findall(response.text):
            link = urljoin(path, html.unescape(raw)).split("#", 1)[0]
            parts = urlsplit(link)
            if parts.netloc or not link.startswith("/") or link.startswith(SKIP):
                continue
            if link not in result.visited:
                queue.append(link)
    return result
