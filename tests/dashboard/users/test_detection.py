"""Which table is the users table: the setting, or the most referenced users-like table."""

from __future__ import annotations

import psycopg
import pytest

from dashboard.schema import reflection as refl
from dashboard.users.detection import UsersTableProblem, looks_like_users, users_table
from tests.dashboard.users.conftest import owner_url, target_rows

REFERENCING_SQL = """
SELECT count(DISTINCT con.conrelid)
FROM pg_constraint AS con
WHERE con.contype = 'f'
  AND con.confrelid = to_regclass(%s)
  AND con.conrelid <> con.confrelid
"""


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.REFLECTION_CHECK_SECONDS = 0
    settings.USERS_TABLE = ""
    refl.invalidate()
    yield
    refl.invalidate()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("users", True),
        ("Accounts", True),
        ("auth_user", True),
        ("app_customers", True),
        ("user_settings", False),
        ("tasks", False),
        ("usersnapshot", False),
    ],
)
def test_users_like_names(name, expected):
    assert looks_like_users(name) is expected


def test_detects_the_application_users_table_with_its_references():
    referencing = target_rows(REFERENCING_SQL, ("public.users",))[0][0]
    found = users_table(refl.reflection().tables)
    assert found.name == "users"
    assert found.key == "id"
    assert found.source == "detected"
    assert len(found.referenced_by) == referencing
    assert {"tasks", "conversations", "messages"} <= set(found.referenced_by)
    assert found.description == f"detected: users (referenced by {referencing} tables)"


def test_the_most_referenced_candidate_wins():
    users_refs = target_rows(REFERENCING_SQL, ("public.users",))[0][0]
    children = [f"ust_det_child_{n}" for n in range(users_refs + 1)]
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE ust_det_members (id bigint PRIMARY KEY)")
        for child in children:
            conn.execute(
                f"CREATE TABLE {child} (id bigint PRIMARY KEY, "
                "member_id bigint REFERENCES ust_det_members (id))"
            )
    try:
        found = users_table(refl.reflection().tables)
        assert found.name == "ust_det_members"
        assert set(found.referenced_by) == set(children)
        assert "users" in [candidate.name for candidate in found.others]
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            for child in children:
                conn.execute(f"DROP TABLE {child}")
            conn.execute("DROP TABLE ust_det_members")


def test_setting_names_the_table(shop):
    found = users_table(refl.reflection().tables, "ust_accounts")
    assert found.source == "setting"
    assert found.referenced_by == ("ust_orders", "ust_payments")
    assert found.description == "set by USERS_TABLE: ust_accounts (referenced by 2 tables)"


def test_setting_naming_a_missing_table_is_a_sentence():
    with pytest.raises(UsersTableProblem, match="USERS_TABLE is set to “nope”"):
        users_table(refl.reflection().tables, "nope")


def test_users_table_needs_a_single_column_key():
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE ust_det_pairs (a int, b int, PRIMARY KEY (a, b))")
    try:
        with pytest.raises(UsersTableProblem, match="one-column primary key"):
            users_table(refl.reflection().tables, "ust_det_pairs")
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            conn.execute("DROP TABLE ust_det_pairs")
