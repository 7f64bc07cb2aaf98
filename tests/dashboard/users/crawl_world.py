"""The access crawl's shared ground: every route classified (ROUTES: shows end-users' rows, in
the shop's crawl or the time machine's, or not, with why), a Look (one request and the one audit
event it must write), and visiting a URL to read its body and the events it added.

Used by test_access_crawl.py (the shop, lookup tables, routes that show no rows) and
test_access_crawl_time_machine.py (the comparison, row changes and a change's event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.http import StreamingHttpResponse
from django.urls import resolve

from dashboard.audit.models import AuditEvent

HTMX = {"HTTP_HX_REQUEST": "true"}


def body_of(response) -> str:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def visit(
    client, url: str, method: str = "GET", data: dict | None = None, **headers
) -> tuple[object, str, list[AuditEvent]]:
    """GET (or POST) `url`; return the response, its whole body and the audit events it added."""
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if method == "POST":
        response = client.post(url, data or {}, **headers)
    else:
        response = client.get(url, **headers)
    body = body_of(response)
    return response, body, list(AuditEvent.objects.filter(pk__gt=last).order_by("pk"))


def event_of(event: AuditEvent) -> dict:
    return {
        "action": event.action,
        "reason": event.reason,
        "subject": event.subject_user,
        "tables": sorted(event.tables),
        "detail": event.detail,
        "operator": event.operator_name,
    }


# -- every route, classified -----------------------------------------------------------------------
SHOP = "shows end-users' rows: a look of the shop crawl (shop_looks)"
TIME_MACHINE = "shows end-users' rows: a look of the time machine's crawl (time_machine_looks)"
ROUTES: dict[str, str] = {
    "login": "the login form",
    "logout": "logs out",
    "healthz": "the databases' status",
    "home": "the Overview: states and counts of the database, no row",
    "overview_line": "one line of the Overview",
    "health_check_start": "starts a job that measures the database (POST)",
    "setup_checks": "the setup checklist: roles, grants, extensions",
    "job_detail": "a job's progress and formatted result (counts, sizes, revision ids)",
    "schema:tables": "the catalog: tables, estimated rows, sizes",
    "schema:diagram": "the catalog, drawn",
    "schema:erd": "the catalog, drawn",
    "schema:table_erd": "the catalog, drawn",
    "schema:table": "one table's catalog: columns, constraints, indexes, policies",
    "data:index": "the table picker: names, estimated rows, sizes",
    "data:list": SHOP,
    "data:count": SHOP,
    "data:row": SHOP,
    "data:export": SHOP,
    "history:index": "the Alembic project's revisions and the database's state",
    "history:revision": "a revision's source, SQL and review",
    "history:revision_regenerate": "makes a revision's SQL again (POST)",
    "history:trials": "the list of trial runs",
    "history:trial_start": "starts a trial run (POST)",
    # Alembic's output on a throw-away branch; a migration that prints rows would show them
    # there (engineers only, not a look at the target).
    "history:trial": "a trial run's steps and Alembic's output on its branch",
    "history:apply": "applies the pending revisions as a job (POST)",
    "branches:list": "branches: names, states, sizes",
    "branches:create": "the new-branch form",
    "branches:job": "a branch job's progress",
    "branches:detail": "a branch's state and connection strings (password hidden)",
    "branches:reveal": "a branch role's password (audited as a reveal)",
    "branches:diff": "the schema difference with the parent",
    "branches:delete": "the confirmation, then a job",
    "branches:reset": "the confirmation, then a job",
    "queries:statements": "statement statistics; texts as recorded, values as $n",
    "queries:indexes": "index statistics and suggestions",
    "queries:activity": "sessions and their statements (values masked for viewers)",
    "queries:signal": "the cancel/terminate confirmation",
    "queries:health": "health figures and their history",
    "queries:snapshots": "the statistics' snapshots",
    "queries:reset": "the reset confirmation",
    "queries:statement": "a statement's statistics and recorded text (values as $n)",
    "queries:explain": "a plain EXPLAIN: estimates, the statement does not run",
    "queries:explain_analyze": SHOP,  # the row counts it reports answer questions about rows
    "queries:hypothetical": "plans with hypothetical indexes: estimates",
    "users:find": SHOP,
    "users:reason": "the reason form",
    "users:ownership": "each table's path to the users table",
    "users:isolation": "tables without RLS or owner index, and counts of orphaned rows",
    "users:compare": TIME_MACHINE,
    "users:compare_as_of": "finds or makes the branch of a time, then redirects (POST)",
    "users:compare_discard": "deletes the point-in-time branch (POST)",
    "users:restore": TIME_MACHINE,
    "users:row_edit": TIME_MACHINE,
    "users:row_add": TIME_MACHINE,
    "users:row_delete": TIME_MACHINE,
    "users:detail": SHOP,
    "users:export": SHOP,
    "users:forget": "forgets the reason for one end-user (POST)",
    "audit:events": "the audit trail's events (a row change's rows only on its own page)",
    "audit:export": "the audit trail as CSV (counts of a row change's rows, not the rows)",
    "audit:event": TIME_MACHINE,  # a row change's event shows its rows before and after
    "audit:revert": TIME_MACHINE,
}


def crawled_in(world: str) -> set[str]:
    return {name for name, why in ROUTES.items() if why == world}


@dataclass(frozen=True)
class Look:
    """One request that shows end-users' rows, and the one audit event it must write."""

    url: str
    how: str  # "full" page or "htmx" part
    expected: dict
    method: str = "GET"
    data: dict = field(default_factory=dict)
    operator: str = "support"

    @property
    def route(self) -> str:
        return resolve(urlsplit(self.url).path).view_name

    def visit(self, client) -> tuple[object, str, list[AuditEvent]]:
        return visit(client, self.url, self.method, self.data, **headers(self.how))


def headers(how: str) -> dict[str, str]:
    return dict(HTMX) if how == "htmx" else {}
