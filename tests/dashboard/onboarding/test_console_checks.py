"""The console's own checks (its database, its audit trail), run against the test cluster."""
# ruff: noqa: F811  (pytest fixtures imported from neon_fixtures are redefined as arguments)

from __future__ import annotations

import dataclasses

import pytest

from dashboard.branches.neon_console_copy import DatabaseAddress
from dashboard.onboarding import console_checks
from dashboard.onboarding.checklist import BAD, OK, WARN
from tests.dashboard.branches.neon_fixtures import fake, neon_settings  # noqa: F401 - fixtures
from tests.dashboard.queries.conftest import as_superuser

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_project")]


def test_a_console_role_left_in_the_audit_owner_is_reported():
    as_superuser("GRANT schemadesk_audit TO schemadesk")
    try:
        found = console_checks.audit_trail_protected()
    finally:
        as_superuser("REVOKE schemadesk_audit FROM schemadesk")
    assert found.status == BAD and "is a member of schemadesk_audit" in found.found
    assert console_checks.audit_trail_protected().status == OK


# ---- the console's own database: who may open it, and whether Neon branches copy it -------


def test_a_console_database_open_to_every_role_is_told_how_to_close_it():
    facts = console_checks.console_database_facts()
    assert not facts.public_connects  # the layout admits only its own roles
    assert console_checks.console_database_closed(facts).status == OK
    database = facts.database
    as_superuser(f'GRANT CONNECT ON DATABASE "{database}" TO PUBLIC')
    try:
        opened = console_checks.console_database_facts()
        found = console_checks.console_database_closed(opened)
    finally:
        as_superuser(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    assert opened.public_connects
    assert found.status == WARN and "granted to PUBLIC" in found.found
    assert f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC;' in found.fix
    assert f'GRANT CONNECT ON DATABASE "{database}" TO "schemadesk";' in found.fix
    # The test layout keeps the console's tables in the target's database: its roles stay in.
    assert "application's roles too" in found.fix


def test_local_branches_copy_no_console_database(settings):
    settings.BRANCH_PROVIDER = "local"
    found = console_checks.console_database_not_copied(console_checks.console_database_facts())
    assert found.status == OK


def test_on_neon_a_console_database_on_the_targets_compute_is_a_warning(fake, neon_settings):
    facts = console_checks.console_database_facts()
    # The test cluster is both DATABASE_URL's and TARGET_DATABASE_URL's server.
    closed = console_checks.console_database_not_copied(facts)
    assert closed.status == WARN
    assert "on the target's own 127.0.0.1:" in closed.found
    assert "every branch made from its branch holds a copy" in closed.found
    assert "CONNECT is revoked from PUBLIC" in closed.found
    move = f"host the console's database outside Neon project {fake.project_id}"
    assert closed.fix.startswith(move)

    opened = console_checks.console_database_not_copied(
        dataclasses.replace(facts, public_connects=True)
    )
    assert opened.status == WARN and "a branch's revealed role can open" in opened.found
    assert f'REVOKE CONNECT ON DATABASE "{facts.database}" FROM PUBLIC;' in opened.fix
    assert not fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")

    # The same Neon compute, one URL through the pooler: the same.
    target = DatabaseAddress("ep-calm-sea-123456.us-east-2.aws.neon.tech", 5432, "app")
    pooled = DatabaseAddress.from_url(
        "postgresql://u@ep-calm-sea-123456-pooler.us-east-2.aws.neon.tech/schemadesk"
    )
    same = console_checks.console_database_not_copied(facts, console=pooled, target=target)
    assert same.status == WARN and "Neon compute ep-calm-sea-123456" in same.found


def test_on_neon_the_project_is_asked_where_the_console_database_is(fake, neon_settings):
    facts = console_checks.console_database_facts()
    target = DatabaseAddress(fake.endpoint_host(fake.default_branch_id), 5432, "neondb")
    console_branch = fake.add_branch("console", with_endpoint=True)
    in_project = DatabaseAddress(fake.endpoint_host(console_branch), 5432, "schemadesk")
    found = console_checks.console_database_not_copied(facts, console=in_project, target=target)
    assert found.status == WARN
    assert f"of branch {console_branch}, in project {fake.project_id}" in found.found

    elsewhere = DatabaseAddress("ep-other-999999.eu-central-1.aws.neon.tech", 5432, "schemadesk")
    outside = console_checks.console_database_not_copied(facts, console=elsewhere, target=target)
    assert outside.status == OK and "outside project" in outside.found
    asked = fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")
    assert len(asked) == 2

    other_server = DatabaseAddress("db.example.com", 5432, "schemadesk")
    away = console_checks.console_database_not_copied(facts, console=other_server, target=target)
    assert away.status == OK
    assert len(fake.requests_to("GET", f"/projects/{fake.project_id}/endpoints")) == 2

    fake.fail_next(503)
    unknown = console_checks.console_database_not_copied(facts, console=in_project, target=target)
    assert unknown.status == WARN and "Neon could not be asked" in unknown.found
