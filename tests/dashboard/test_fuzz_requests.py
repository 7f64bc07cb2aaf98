"""Property-based fuzz of every route and every parameter its view reads (see request_fuzz and
fuzz_strategies): as an administrator with a reason given, no request gets a 5xx or a traceback.

A bounded, reproducible run (the `request-fuzz` Hypothesis profile: a fixed number of examples
per route, derandomized); `benchmarks/fuzz_requests.py` runs the same requests much longer.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.jobs.models import JobRun
from dashboard.schema import reflection
from dashboard.users.ownership import forget_ownership_map
from tests.dashboard.queries.conftest import as_owner, as_superuser
from tests.fuzz_strategies import PARAMETERS, World
from tests.request_fuzz import (
    RECORDED,
    SUBJECTS,
    create_schema,
    drop_schema,
    key_samples,
    problems,
    reflected_columns,
    requests_for,
    routes,
    send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def owner_execute(sql: str, params: tuple | None = None) -> None:
    as_owner(sql, params)


@pytest.fixture(scope="module")
def fuzz_schema():
    create_schema(owner_execute)
    for sql, params in RECORDED:
        owner_execute(sql, params)
    reflection.invalidate()
    yield
    drop_schema(owner_execute)
    reflection.invalidate()


@pytest.fixture
def world(fuzz_schema, settings, admin_client) -> World:
    settings.USERS_TABLE = "fz_users"
    settings.USER_LINKS = {}
    settings.DATA_WRITES_ENABLED = True  # the row change pages too (no forged digest applies)
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": "TARGET_WRITE_DATABASE_URL"}
    reflection.invalidate()
    forget_ownership_map()
    for subject in SUBJECTS:  # the reason gate lets the administrator through
        admin_client.post(reverse("users:detail", args=[subject]), {"reason": "FUZZ-1 input"})
    admin_client.post(reverse("users:reason"), {"reason": "FUZZ-1 browsing"})  # user-owned tables
    admin_client.post(reverse("health_check_start"))
    columns, keys = reflected_columns()
    recorded = as_superuser(
        "SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT id FROM fz_items%'"
    )
    assert len(recorded) >= len(RECORDED)
    return World(
        columns=columns,
        keys=keys,
        subjects=list(SUBJECTS),
        queryids=[row[0] for row in recorded],
        revisions=["0001", "0002", "0003"],
        job_ids=list(JobRun.objects.values_list("pk", flat=True)),
        pids=[row[0] for row in as_superuser("SELECT pid FROM pg_stat_activity LIMIT 3")],
        rows=key_samples(keys),
    )


def test_every_route_is_fuzzed():
    # A new route must say what its view reads (PARAMETERS), or the fuzz would skip it.
    assert sorted(route.name for route in routes()) == sorted(PARAMETERS)


ROUTES = {route.name: route for route in routes()}


@pytest.mark.parametrize("name", sorted(PARAMETERS))
@settings(settings.get_profile("request-fuzz"))
@given(data=st.data())
def test_no_request_gets_a_5xx_or_a_traceback(name, world, admin_client, data):
    admin_client.raise_request_exception = False  # a 500 is an answer to report
    request = data.draw(requests_for(ROUTES[name], world), label="request")
    status, body = send(admin_client, request)
    assert not problems(status, body), f"{request} answered {status}: {body[:500]}"
