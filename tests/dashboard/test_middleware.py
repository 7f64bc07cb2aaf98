"""Deny by default: every URL declares a role (or is public), and the middleware enforces it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse

from dashboard.accounts.roles import ROLES, role_required
from dashboard.jobs.models import JobRun

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "logout", "healthz"}


def declared_patterns(
    patterns: list | None = None, namespace: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    """Yield (namespaced name, pattern) for every URL pattern, included ones too."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from declared_patterns(entry.url_patterns, inner)
        else:
            yield f"{namespace}{entry.name}", entry


def sample_url(name: str, pattern: URLPattern) -> str:
    """Return a URL of the pattern with a plausible value for each of its arguments."""
    converters = getattr(pattern.pattern, "converters", {})
    groups = re.compile(str(pattern.pattern.regex.pattern)).groupindex
    kwargs = {}
    for group in groups:
        converter = converters.get(group)
        kwargs[group] = "1" if converter is None or "Int" in type(converter).__name__ else "x"
    return reverse(name, kwargs=kwargs)


ALL = list(declared_patterns())


def test_the_walk_finds_the_included_patterns():
    names = {name for name, _ in ALL}
    assert {"data:row", "queries:explain_analyze", "users:export", "job_detail"} <= names
    assert len(ALL) > 40


@pytest.mark.parametrize(("name", "pattern"), ALL, ids=[name for name, _ in ALL])
def test_every_view_declares_a_role_or_is_public(name, pattern):
    view = pattern.callback
    role = getattr(view, "required_role", None)
    if getattr(view, "public", False):
        assert name in PUBLIC, f"{name} is public, but only {sorted(PUBLIC)} may be"
        assert role is None
    else:
        assert role in ROLES, f"{name} declares no role: decorate it with role_required(...)"


NOT_PUBLIC = [(name, pattern) for name, pattern in ALL if name not in PUBLIC]


@pytest.fixture
def no_role_client(operator_factory) -> Client:
    client = Client()
    client.force_login(operator_factory("nora-norole", None))
    return client


@pytest.mark.parametrize(("name", "pattern"), NOT_PUBLIC, ids=[n for n, _ in NOT_PUBLIC])
def test_an_operator_without_a_role_is_refused_everywhere(no_role_client, name, pattern):
    url = sample_url(name, pattern)
    for method in (no_role_client.get, no_role_client.post):
        response = method(url)
        assert response.status_code == 403, (url, method.__name__)
        assert "Not allowed" in response.content.decode()


# The pages an operator without a role could open before (they only checked the login).
SEEN_OPEN = [
    "/",
    "/migrations/",
    "/migrations/trials/",
    "/queries/",
    "/queries/activity/",
    "/queries/indexes/",
    "/queries/health/",
    "/queries/snapshots/",
]


@pytest.mark.parametrize("url", SEEN_OPEN)
def test_pages_seen_open_are_refused_full_page_and_partial(
    no_role_client, viewer_client, htmx_headers, url
):
    full = no_role_client.get(url)
    assert full.status_code == 403
    assert "<html" in full.content.decode() and "viewer" in full.content.decode()
    partial = no_role_client.get(url, **htmx_headers)
    assert partial.status_code == 403
    assert "<html" not in partial.content.decode() and "viewer" in partial.content.decode()
    assert partial["HX-Refresh"] == "true"  # the whole page reloads and shows the refusal
    assert viewer_client.get(url).status_code == 200


def test_a_refused_htmx_post_is_not_hidden_behind_a_reload(viewer_client, htmx_headers):
    response = viewer_client.post("/queries/reset/", **htmx_headers)
    assert response.status_code == 403
    assert "admin" in response.content.decode() and "<html" not in response.content.decode()
    assert "HX-Refresh" not in response


def test_a_job_page_is_refused_without_a_role(no_role_client, viewer_client, htmx_headers):
    run = JobRun.objects.create(kind="health_check")
    assert no_role_client.get(f"/jobs/{run.pk}/").status_code == 403
    assert no_role_client.get(f"/jobs/{run.pk}/", **htmx_headers).status_code == 403
    assert viewer_client.get(f"/jobs/{run.pk}/").status_code == 200


def test_a_role_taken_away_is_gone_at_the_next_request(operator_factory, htmx_headers):
    operator = operator_factory("rita-removed", "viewer")
    client = Client()
    client.force_login(operator)
    assert client.get("/queries/").status_code == 200
    operator.groups.remove(Group.objects.get(name="viewer"))
    assert client.get("/queries/").status_code == 403
    assert client.get("/queries/", **htmx_headers).status_code == 403
    operator.groups.add(Group.objects.get_or_create(name="support")[0])
    assert client.get("/data/").status_code == 200  # and a new role counts at once too


# -- a view that forgets to declare a role ---------------------------------------------------------
def undeclared(request):
    return HttpResponse("open to anyone who is logged in")


@role_required("viewer")
def declared(request):
    return HttpResponse("for viewers")


urlpatterns = [
    path("undeclared/", undeclared),
    path("declared/", declared),
    path("", include("dashboard.urls")),  # the page around the refusal links to the sections
]


def test_a_view_without_a_declaration_is_refused_to_everyone(admin_client, settings):
    settings.ROOT_URLCONF = __name__
    response = admin_client.get("/undeclared/")
    assert response.status_code == 403
    assert b"open to anyone" not in response.content
    assert b"declares no role" in response.content
    assert admin_client.get("/declared/").content == b"for viewers"


@pytest.mark.parametrize(
    "url",
    [
        "/static/css/app.css",  # served by WhiteNoise, before the views' middleware
        "/static/favicon.svg",  # an SVG opened on its own is a document
        "/login/",
        "/healthz",
        "/no/such/page/",
        "/schema/%00/",  # a 400
        "/",  # anonymous: a redirect to the login page
    ],
)
def test_every_response_carries_the_security_headers(url):
    response = Client().get(url)
    assert response.status_code in (200, 302, 400, 404), url
    assert "script-src 'self'" in response["Content-Security-Policy"], url
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"], url
    assert response["X-Frame-Options"] == "DENY", url
    assert response["X-Content-Type-Options"] == "nosniff", url
