"""Passwords in role statements never reach a page or the console's database.

pg_stat_statements and pg_stat_activity keep a utility statement's literals as they were sent,
so `ALTER ROLE ... PASSWORD '...'` (set-up scripts, the demo, an operator's psql) would show the
password to every viewer of the Queries pages and be copied into the snapshots.
"""

from __future__ import annotations

import secrets

import pytest

from dashboard.queries.models import StatementText
from dashboard.queries.snapshots import capture_snapshot
from dashboard.queries.sqlformat import without_passwords
from tests.dashboard.queries.conftest import queryid_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER ROLE a PASSWORD '{secret}'",
        "CREATE ROLE a LOGIN ENCRYPTED PASSWORD '{secret}' VALID UNTIL 'infinity'",
        "alter user a with password E'{secret}'",
        "CREATE ROLE a PASSWORD 'it''s {secret}'",
        "ALTER ROLE a PASSWORD $${secret}$$",
        "ALTER ROLE a PASSWORD $q${secret}$q$ LOGIN",
        "ALTER ROLE a PASSWORD '{secret}",  # cut at track_activity_query_size
    ],
)
def test_every_password_literal_is_replaced(statement):
    secret = secrets.token_hex(8)
    shown = without_passwords(statement.format(secret=secret))
    assert secret not in shown
    assert "PASSWORD '[redacted]'" in shown.replace("password", "PASSWORD")


def test_a_statement_without_a_password_is_unchanged():
    statement = "SELECT 'PASSWORD' AS word, password FROM accounts WHERE note = 'x'"
    assert without_passwords(statement) == statement


def test_queries_pages_and_snapshots_never_show_a_password(workload_role, admin_client):
    secret = f"pw-{secrets.token_hex(10)}"
    conn = workload_role()  # stays open and idle: pg_stat_activity shows its last statement
    conn.execute(f"ALTER ROLE {workload_role.role} PASSWORD '{secret}'")
    statement = f"ALTER ROLE {workload_role.role} PASSWORD '{secret}'"
    queryid = queryid_of(statement, workload_role.role)  # recorded with the password, as sent

    listing = admin_client.get("/queries/", {"user": workload_role.role, "console": "1"})
    detail = admin_client.get(f"/queries/{queryid}/")
    activity = admin_client.get("/queries/activity/", {"console": "1", "idle": "1"})
    for response in (listing, detail, activity):
        assert response.status_code == 200
        assert secret not in response.content.decode()
    # The statement is shown, its password replaced (like every constant of such a statement).
    assert workload_role.role in detail.content.decode()
    assert workload_role.role in activity.content.decode()

    capture_snapshot()
    stored = StatementText.objects.filter(queryid=queryid).values_list("text", flat=True)
    assert list(stored) and all(secret not in text for text in stored)
