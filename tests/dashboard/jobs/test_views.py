"""A job's page is visible only to the roles that may see what the job is about."""

from __future__ import annotations

import pytest

from dashboard.jobs.kinds import JOB_KIND_ROLES, UndeclaredJobKind
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue

pytestmark = pytest.mark.django_db

# Who may see which kind: (kind, lowest role that may).
EXPECTED = [
    ("health_check", "viewer"),
    ("queries_snapshot", "viewer"),
    ("revision_sql", "viewer"),
    ("branch_create", "viewer"),
    ("migration_trial", "engineer"),
    ("migration_apply", "admin"),
    ("renamed_or_forgotten_kind", "admin"),  # not declared: administrators only
]
ORDER = ("viewer", "support", "engineer", "admin")


@pytest.mark.parametrize(("kind", "lowest"), EXPECTED)
def test_each_kind_is_shown_from_its_role_up(client_for_role, htmx_headers, kind, lowest):
    run = JobRun.objects.create(kind=kind, progress=[{"at": "", "message": "step one done"}])
    for role in ORDER:
        client = client_for_role(role)
        allowed = ORDER.index(role) >= ORDER.index(lowest)
        full = client.get(f"/jobs/{run.pk}/")
        partial = client.get(f"/jobs/{run.pk}/", **htmx_headers)
        assert full.status_code == partial.status_code == (200 if allowed else 403), role
        assert ("step one done" in full.content.decode()) is allowed
        assert ("step one done" in partial.content.decode()) is allowed
        if not allowed:
            assert lowest in full.content.decode()


def test_every_declared_kind_names_a_role():
    assert set(JOB_KIND_ROLES.values()) <= set(ORDER)


def test_enqueue_refuses_a_kind_without_a_role():
    class Task:
        def defer(self, **params):  # pragma: no cover - never reached
            raise AssertionError("deferred")

    with pytest.raises(UndeclaredJobKind, match="declares no role"):
        enqueue(Task(), kind="something_new")
    assert not JobRun.objects.exists()


@pytest.fixture
def client_for_role(operator_factory):
    from django.test import Client

    made = {}

    def make(role: str) -> Client:
        if role not in made:
            made[role] = Client()
            made[role].force_login(operator_factory(f"job-{role}", role))
        return made[role]

    return make
