"""Shared fixtures: the throwaway cluster's database, operators of each role, clients."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from core.audit_owner import audit_owner_lent
from core.embedded import CONSOLE_ROLE
from tests.pgplugin import TEST_DATABASE


def pytest_configure(config):
    from django.conf import settings

    # Test operators' passwords need no key stretching (each PBKDF2 hash costs ~1 s here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering by database use
def pytest_collection_modifyitems(session, config, items):
    """Run browser tests last: Playwright's event loop stays up for the rest of the session,
    and procrastinate's worker (asyncio.run) cannot start inside a running loop."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path))


def superuser_database_url() -> str:
    """Return the superuser's URL for the test database (a secret: never log it)."""
    return os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{TEST_DATABASE}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """Use the test cluster's database as it is (it is throwaway) and migrate it once.

    As in production: the migration that hands the audit table to its owner runs with the
    membership lent to the console's role, which loses it again right after.
    """
    with django_db_blocker.unblock():
        with audit_owner_lent(superuser_database_url(), CONSOLE_ROLE):
            call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)


def erase_audit_trail() -> None:
    """Empty the audit trail as the superuser (tests only; the console's role cannot)."""
    with psycopg.connect(superuser_database_url(), autocommit=True) as conn:
        # The append-only trigger refuses TRUNCATE to everyone; replica mode skips triggers.
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE django.audit_auditevent")


@pytest.fixture(autouse=True)
def _empty_audit_trail_after_transactional_tests(request):
    """Transactional tests start from empty tables: Django's flush skips the audit table
    (it is not Django's to truncate), so empty it here the way only a superuser can."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if transactional:
        erase_audit_trail()


def make_operator(username: str, role: str | None, password: str = "correct horse 42"):
    """Create an operator with a role (None = no role) and return it."""
    user = get_user_model().objects.create_user(username=username, password=password)
    if role:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def operator_factory(db):
    return make_operator


@pytest.fixture
def admin_user(db):
    return make_operator("ada-admin", "admin")


@pytest.fixture
def viewer_user(db):
    return make_operator("vic-viewer", "viewer")


@pytest.fixture
def support_user(db):
    return make_operator("sue-support", "support")


@pytest.fixture
def engineer_user(db):
    return make_operator("eve-engineer", "engineer")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:  # replaces pytest-django's superuser client
    return _client_for(admin_user)


@pytest.fixture
def viewer_client(viewer_user) -> Client:
    return _client_for(viewer_user)


@pytest.fixture
def support_client(support_user) -> Client:
    return _client_for(support_user)


@pytest.fixture
def engineer_client(engineer_user) -> Client:
    return _client_for(engineer_user)


HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    """Headers that make the test client's request look like an htmx request."""
    return dict(HTMX)
