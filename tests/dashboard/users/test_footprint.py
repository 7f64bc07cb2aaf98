"""One user's footprint: exact bounded counts, first rows, masking, timeouts."""

from __future__ import annotations

import threading

import psycopg
import pytest

from dashboard.users.footprint import FIRST_ROWS, user_footprint
from dashboard.users.ownership import ownership_map
from tests.dashboard.users.conftest import owner_url, target_rows

pytestmark = pytest.mark.usefixtures("shop")

EXPECTED_COUNTS_SQL = {
    "ust_orders": "SELECT count(*) FROM ust_orders WHERE account_id = %s",
    "ust_order_items": "SELECT count(*) FROM ust_order_items WHERE order_id IN "
    "(SELECT id FROM ust_orders WHERE account_id = %s)",
    "ust_payments": "SELECT count(*) FROM ust_payments WHERE account_id = %s",
    "ust_notes": "SELECT count(*) FROM ust_notes WHERE author = %s",
}


def by_table(footprint):
    return {item.table: item for item in footprint.tables}


@pytest.mark.parametrize("subject", ["acc_alice", "acc_bob", "acc_carol"])
def test_counts_match_the_database(subject):
    tables = by_table(user_footprint(ownership_map(), subject, subject))
    for table, sql in EXPECTED_COUNTS_SQL.items():
        assert tables[table].count == target_rows(sql, (subject,))[0][0], table
        assert not tables[table].count_capped


def test_newest_rows_first_and_the_profile():
    footprint = user_footprint(ownership_map(), "acc_bob", "acc_bob")
    assert footprint.exists
    profile = dict((name, value.text) for name, value in footprint.profile)
    assert profile["email"] == "Bob@Example.com"
    items = by_table(footprint)["ust_order_items"]
    assert len(items.rows) == FIRST_ROWS
    expected = [
        row[0]
        for row in target_rows(
            "SELECT i.id FROM ust_order_items AS i JOIN ust_orders AS o ON o.id = i.order_id "
            "WHERE o.account_id = 'acc_bob' ORDER BY i.id DESC LIMIT %s",
            (FIRST_ROWS,),
        )
    ]
    id_position = items.columns.index("id")
    assert [int(row[id_position].text) for row in items.rows] == expected


def test_rows_with_a_timestamp_come_newest_first_by_it():
    orders = by_table(user_footprint(ownership_map(), "acc_bob", "acc_bob"))["ust_orders"]
    assert orders.newest_by == "placed_at"
    expected = target_rows(
        "SELECT id FROM ust_orders WHERE account_id = 'acc_bob' "
        "ORDER BY placed_at DESC NULLS LAST, id DESC LIMIT %s",
        (FIRST_ROWS,),
    )
    id_position = orders.columns.index("id")
    assert [int(row[id_position].text) for row in orders.rows] == [i for (i,) in expected]
    assert expected != target_rows(  # the timestamp order is not the key order here
        "SELECT id FROM ust_orders WHERE account_id = 'acc_bob' ORDER BY id DESC LIMIT %s",
        (FIRST_ROWS,),
    )


def test_rows_are_counted_by_a_status_column():
    footprint = by_table(user_footprint(ownership_map(), "acc_bob", "acc_bob"))
    orders = footprint["ust_orders"]
    assert orders.status_column == "status"
    expected = target_rows(
        "SELECT status, count(*) FROM ust_orders WHERE account_id = 'acc_bob' "
        "GROUP BY status ORDER BY status"
    )
    assert orders.status_counts == [(status, count) for status, count in expected]
    assert sum(count for _, count in orders.status_counts) == orders.count
    assert footprint["ust_notes"].status_column == ""  # nothing that looks like a status


def test_no_counts_by_status_over_a_capped_count(settings):
    settings.SUPPORT_COUNT_LIMIT = 10
    orders = by_table(user_footprint(ownership_map(), "acc_bob", "acc_bob"))["ust_orders"]
    assert orders.count_capped and orders.status_counts == []  # they would not add up


def test_secret_looking_columns_are_masked():
    footprint = user_footprint(ownership_map(), "acc_alice", "acc_alice")
    profile = dict(footprint.profile)
    assert profile["password_hash"].kind == "masked"
    assert "secret-alice" not in profile["password_hash"].text
    assert by_table(footprint)["ust_accounts"].masked == ["password_hash"]


def test_missing_user_still_shows_left_over_rows():
    footprint = user_footprint(ownership_map(), "ghost", "ghost")
    assert not footprint.exists
    assert by_table(footprint)["ust_notes"].count == 1
    assert "ust_notes" not in footprint.empty_tables
    assert "ust_orders" in footprint.empty_tables


def test_count_is_bounded(settings):
    settings.SUPPORT_COUNT_LIMIT = 10
    orders = by_table(user_footprint(ownership_map(), "acc_bob", "acc_bob"))["ust_orders"]
    assert orders.count_capped
    assert orders.count_text == "more than 10"
    assert len(orders.rows) == FIRST_ROWS


def test_a_locked_table_times_out_alone(settings):
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 150}
    owners = ownership_map()  # cached, as it is on a running console
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(owner_url()) as conn:
            conn.execute("LOCK TABLE ust_notes IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        tables = by_table(user_footprint(owners, "acc_alice", "acc_alice"))
    finally:
        release.set()
        holder.join()
    assert tables["ust_notes"].count_timed_out
    assert tables["ust_notes"].count_text == "count timed out"
    assert tables["ust_notes"].rows_timed_out
    assert tables["ust_orders"].count == 3  # the other tables were read normally
    assert len(tables["ust_payments"].rows) == 3


def test_the_counting_statement_is_built_once_per_map_and_counts_each_user():
    from dashboard.target import run_read
    from dashboard.users.footprint import counts_query

    owners = ownership_map()
    by_keys = [o for o in owners.owned.values() if o.path.hops and not o.path.uses_setting]
    first, alice = counts_query(owners, by_keys, "acc_alice")
    second, bob = counts_query(owners, by_keys, "acc_bob")
    assert first is second  # built once; the user's key is a parameter
    for params, subject in ((alice, "acc_alice"), (bob, "acc_bob")):
        counts = run_read(lambda conn, p=params: conn.execute(first, p).one())
        expected = [target_rows(EXPECTED_COUNTS_SQL[o.table], (subject,))[0][0] for o in by_keys]
        assert list(counts) == expected
    # A path through a USER_LINKS entry may convert the key in Python: built for that key.
    linked = [o for o in owners.owned.values() if o.path.uses_setting]
    assert counts_query(owners, linked, "acc_alice")[1] == {}
