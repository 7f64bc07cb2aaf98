"""Isolation report: tables without RLS, unindexed owner columns, orphan rows."""

from __future__ import annotations

import psycopg
import pytest

from dashboard.schema import reflection as refl
from dashboard.users.isolation import COUNTED, ENFORCED, isolation_report
from dashboard.users.ownership import forget_ownership_map, ownership_map
from tests.dashboard.users.conftest import owner_url, target_rows

pytestmark = pytest.mark.usefixtures("shop")


def rows_by_table():
    return {row.table: row for row in isolation_report(ownership_map()).rows}


def test_tables_without_row_level_security_are_flagged():
    expected = {
        name
        for (name,) in target_rows(
            "SELECT relname FROM pg_class WHERE relname LIKE 'ust\\_%%' "
            "AND relkind = 'r' AND NOT relrowsecurity"
        )
    }
    report = isolation_report(ownership_map())
    flagged = {row.table for row in report.without_rls}
    assert flagged == expected - {"ust_shipments"}  # shipments is not linked to users
    assert flagged == {"ust_order_items", "ust_notes"}


def test_unindexed_owner_columns_are_flagged():
    rows = rows_by_table()
    assert [link.label for link in rows["ust_order_items"].unindexed] == [
        "ust_order_items.order_id → ust_orders.id"
    ]
    assert [link.label for link in rows["ust_notes"].unindexed] == [
        "ust_notes.author → ust_accounts.id"
    ]
    assert rows["ust_orders"].unindexed == []


def test_orphans_are_counted_where_no_foreign_key_prevents_them():
    rows = rows_by_table()
    expected = target_rows(
        "SELECT count(*) FROM ust_notes AS n "
        "WHERE NOT EXISTS (SELECT 1 FROM ust_accounts AS a WHERE a.id = n.author)"
    )[0][0]
    assert rows["ust_notes"].orphan_check == COUNTED
    assert rows["ust_notes"].orphans == expected == 1
    assert rows["ust_orders"].orphan_check == ENFORCED
    assert rows["ust_orders"].orphans is None


def test_a_not_valid_foreign_key_is_checked_for_orphans():
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute("ALTER TABLE ust_payments DROP CONSTRAINT ust_payments_account_id_fkey")
        conn.execute(
            "INSERT INTO ust_payments (account_id, amount) VALUES ('gone', 1), ('gone', 2)"
        )
        conn.execute(
            "ALTER TABLE ust_payments ADD CONSTRAINT ust_payments_account_id_fkey "
            "FOREIGN KEY (account_id) REFERENCES ust_accounts (id) NOT VALID"
        )
    try:
        refl.invalidate()
        forget_ownership_map()
        payments = rows_by_table()["ust_payments"]
        assert payments.orphan_check == COUNTED
        assert payments.orphans == 2
    finally:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            conn.execute("DELETE FROM ust_payments WHERE account_id = 'gone'")
            conn.execute(
                "ALTER TABLE ust_payments VALIDATE CONSTRAINT ust_payments_account_id_fkey"
            )
        refl.invalidate()
        forget_ownership_map()
