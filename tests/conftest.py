"""Shared fixtures: the throwaway cluster's database, operators of each role, clients."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

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


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """Use the test cluster's database as it is (it is throwaway) and migrate it once."""
    # Transactional tests empty the tables with TRUNCATE between tests; the audit table refuses
    # that unless the maintenance setting is on, which only this throwaway database enables.
    with psycopg.connect(os.environ["PG_SUPERUSER_URL"], autocommit=True) as conn:
        conn.execute(
            f"ALTER ROLE {CONSOLE_ROLE} IN DATABASE {TEST_DATABASE} "
            "SET schemadesk.audit_maintenance = 'on'"
        )
    with django_db_blocker.unblock():
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)


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
