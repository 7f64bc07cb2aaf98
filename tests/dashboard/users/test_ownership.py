"""Ownership paths: direct, through other tables, configured links, composite keys skipped."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import select

from dashboard.schema import reflection as refl
from dashboard.target import run_read
from dashboard.users.isolation import isolation_report
from dashboard.users.links import FOREIGN_KEY, SETTING
from dashboard.users.ownership import coerce_key, forget_ownership_map, ownership_map, rows_of_user
from tests.dashboard.users.conftest import owner_url, target_rows

pytestmark = pytest.mark.usefixtures("shop")


def test_direct_and_indirect_paths():
    owners = ownership_map()
    assert owners.users.name == "ust_accounts"
    orders = owners.owned["ust_orders"].path
    assert orders.is_direct
    assert orders.detail == "ust_orders.account_id → ust_accounts.id"
    items = owners.owned["ust_order_items"].path
    assert items.arrow == "ust_order_items → ust_orders → ust_accounts"
    assert [link.label for link in items.links] == [
        "ust_order_items.order_id → ust_orders.id",
        "ust_orders.account_id → ust_accounts.id",
    ]
    assert all(link.via == FOREIGN_KEY for link in items.links)


def test_shortest_path_is_used_and_the_others_are_listed():
    payments = ownership_map().owned["ust_payments"]
    assert payments.path.detail == "ust_payments.account_id → ust_accounts.id"
    assert [other.arrow for other in payments.alternatives] == [
        "ust_payments → ust_orders → ust_accounts"
    ]


def test_table_without_foreign_key_is_linked_by_the_setting():
    notes = ownership_map().owned["ust_notes"].path
    assert notes.detail == "ust_notes.author → ust_accounts.id"
    assert notes.links[0].via == SETTING
    assert notes.uses_setting


def test_composite_foreign_key_is_skipped_and_its_table_unlinked():
    owners = ownership_map()
    assert "ust_shipments" in owners.unlinked
    assert "ust_shipments" not in owners.owned
    (skipped,) = [s for s in owners.skipped if s.label.startswith("ust_shipments")]
    assert "composite" in skipped.reason


def test_wrong_setting_entries_are_reported_not_fatal(settings):
    settings.USER_LINKS = {"ust_nope": "author", "ust_notes.body": "ust_accounts.nope"}
    owners = ownership_map()
    assert "ust_notes" in owners.unlinked
    assert any("no table “ust_nope”" in problem for problem in owners.problems)
    assert any("has no column “nope”" in problem for problem in owners.problems)


def test_link_to_a_non_key_column_of_the_users_table(settings):
    settings.USER_LINKS = {"ust_notes.author": "ust_accounts.name"}
    owners = ownership_map()
    path = owners.owned["ust_notes"].path
    assert path.detail == "ust_notes.author → ust_accounts.name"


def test_unindexed_owner_columns_are_found():
    owners = ownership_map()
    unindexed = {
        link.label
        for ownership in owners.owned.values()
        for link in owners.unindexed_links(ownership.path)
    }
    assert unindexed == {
        "ust_order_items.order_id → ust_orders.id",
        "ust_notes.author → ust_accounts.id",
    }


@pytest.mark.parametrize(
    ("table", "expected_sql"),
    [
        ("ust_orders", "SELECT id FROM ust_orders WHERE account_id = %s"),
        (
            "ust_order_items",
            "SELECT i.id FROM ust_order_items AS i JOIN ust_orders AS o ON o.id = i.order_id "
            "WHERE o.account_id = %s",
        ),
        ("ust_notes", "SELECT id FROM ust_notes WHERE author = %s"),
        ("ust_accounts", "SELECT id FROM ust_accounts WHERE id = %s"),
    ],
)
def test_rows_of_user_selects_exactly_that_users_rows(table, expected_sql):
    owners = ownership_map()
    ownership = owners.owned[table]
    key = owners.tables[table].primary_key.columns.values()[0]
    statement = select(key).where(rows_of_user(owners, ownership.path, "acc_alice"))
    found = run_read(lambda conn: sorted(conn.execute(statement).scalars()))
    expected = sorted(row[0] for row in target_rows(expected_sql, ("acc_alice",)))
    assert found == expected
    assert found  # alice has rows in each of these tables


def test_configured_link_between_different_types(settings):
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE ust_num_members (id bigint PRIMARY KEY)")
        conn.execute("CREATE TABLE ust_num_log (id bigint PRIMARY KEY, actor text NOT NULL)")
        conn.execute("INSERT INTO ust_num_members VALUES (7), (8)")
        conn.execute(
            "INSERT INTO ust_num_log VALUES (1, '7'), (2, '7'), (3, '8'), (4, '9'), (5, 'x')"
        )
    settings.USERS_TABLE = "ust_num_members"
    settings.USER_LINKS = {"ust_num_log": "actor"}
    refl.invalidate()
    forget_ownership_map()
    try:
        owners = ownership_map()
        path = owners.owned["ust_num_log"].path
        log = owners.tables["ust_num_log"]
        key = coerce_key(owners.key_column, "7")
        assert key == 7
        statement = select(log.c.id).where(rows_of_user(owners, path, key)).order_by(log.c.id)
        assert run_read(lambda conn: list(conn.execute(statement).scalars())) == [1, 2]
        report = {row.table: row for row in isolation_report(owners).rows}
        assert report["ust_num_log"].orphans == 2  # '9' and 'x' name no member
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            conn.execute("DROP TABLE ust_num_log, ust_num_members")
        refl.invalidate()
        forget_ownership_map()
