"""Finding a user: exact id, exact email (case-insensitive), prefixes; bounded, indexed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from sqlalchemy import Column, Date, Text

from dashboard.schema import reflection as refl
from dashboard.users import lookup
from dashboard.users.lookup import find_users, like_prefix
from dashboard.users.ownership import forget_ownership_map, ownership_map
from tests.dashboard.users.conftest import owner_url

pytestmark = pytest.mark.usefixtures("shop")


def keys(result) -> list[str]:
    return [match.key for match in result.matches]


def test_exact_id():
    result = find_users(ownership_map(), "acc_alice")
    assert result.exact
    assert keys(result) == ["acc_alice"]
    assert result.matches[0].email == "alice@example.com"
    assert result.matches[0].name == "Alice Adams"
    assert result.matches[0].matched == "id"


def test_exact_email_as_stored():
    result = find_users(ownership_map(), "alice@example.com")
    assert result.exact and keys(result) == ["acc_alice"]
    assert result.notes == []  # found through the index on email


def test_email_case_insensitive_without_lower_index_scans_and_says_so():
    result = find_users(ownership_map(), "bob@example.com")  # stored as Bob@Example.com
    assert result.exact and keys(result) == ["acc_bob"]
    assert any("no index on lower(email)" in note for note in result.notes)


def test_email_case_insensitive_with_lower_index_uses_it():
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("CREATE INDEX ust_accounts_lower_email ON ust_accounts (lower(email))")
    try:
        refl.invalidate()
        forget_ownership_map()
        result = find_users(ownership_map(), "BOB@example.COM")
        assert keys(result) == ["acc_bob"]
        assert result.notes == []
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            conn.execute("DROP INDEX ust_accounts_lower_email")
        refl.invalidate()
        forget_ownership_map()


def test_id_prefix_lists_matches_in_order():
    result = find_users(ownership_map(), "acc_")
    assert not result.exact
    assert keys(result) == ["acc_alice", "acc_bob", "acc_carol"]
    assert {match.matched for match in result.matches} == {"id prefix"}


def test_email_prefix_is_case_insensitive_for_lowercase_emails():
    result = find_users(ownership_map(), "Car")
    assert keys(result) == ["acc_carol"]
    assert result.matches[0].matched == "email prefix"


def test_prefix_results_are_bounded(monkeypatch):
    monkeypatch.setattr(lookup, "MAX_MATCHES", 2)
    result = find_users(ownership_map(), "acc")
    assert keys(result) == ["acc_alice", "acc_bob"]
    assert result.more


def test_wildcards_in_the_query_are_literal():
    assert like_prefix("a%_b\\") == "a\\%\\_b\\\\%"
    assert find_users(ownership_map(), "acc%").matches == []
    assert find_users(ownership_map(), "%").matches == []


def test_prefix_search_is_served_by_an_index():
    # The test cluster uses the "C" collation, so LIKE 'abc%' can use the btree indexes.
    owners = ownership_map()
    assert owners.facts.leading_index("ust_accounts", "email").prefix_searchable
    assert find_users(owners, "ali").notes == []


def test_nothing_found_and_empty_query():
    assert find_users(ownership_map(), "zz-nobody").matches == []
    assert find_users(ownership_map(), "   ").matches == []


@pytest.mark.parametrize(
    ("typed", "found"), [("Bob B", "acc_bob"), ("baker", "acc_bob"), ("CHEN", "acc_carol")]
)
def test_a_user_is_found_by_the_start_of_their_name_or_of_a_word_of_it(typed, found):
    result = find_users(ownership_map(), typed)
    assert keys(result) == [found]
    assert result.matches[0].matched == "name"
    assert not result.exact  # a list to choose from, never opened straight away


def test_a_name_search_takes_wildcards_literally():
    assert find_users(ownership_map(), "%a").matches == []
    assert find_users(ownership_map(), "_ob").matches == []


def test_a_creation_date_without_a_time_is_shown_as_it_is():
    # Seen by the type checker: a `date` has isoformat() too, but no `sep`: a users table
    # whose created column is a date made every search fail.
    key, created = Column("id", Text), Column("created_at", Date)
    day = lookup._match(
        {"id": "u1", "created_at": date(2024, 5, 1)}, key, None, [key, created], "id"
    )
    assert day.created_at == "2024-05-01"
    moment = datetime(2024, 5, 1, 9, 30, 12, tzinfo=UTC)
    stamped = lookup._match({"id": "u1", "created_at": moment}, key, None, [key, created], "id")
    assert stamped.created_at == "2024-05-01 09:30+00:00"
