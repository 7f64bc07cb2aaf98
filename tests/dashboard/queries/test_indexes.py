"""The indexes page: unused, duplicate/redundant and invalid indexes, sequential-scan tables."""

from __future__ import annotations

import os

import psycopg
import pytest

from dashboard.queries.indexes import index_report
from tests.dashboard.queries.conftest import as_owner, scratch_table, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def index_table():
    """A table with a used index, an unused one, a duplicate pair, a prefix and a unique one."""
    with scratch_table(
        "qt_idx",
        "CREATE TABLE qt_idx (id serial PRIMARY KEY, a int, b int, c int, d int)",
        "INSERT INTO qt_idx (a, b, c, d) "
        "SELECT g % 50, g % 70, g, g % 3 FROM generate_series(1, 3000) AS g",
        "CREATE INDEX qt_idx_a_never_used ON qt_idx (a)",
        "CREATE INDEX qt_idx_b_first ON qt_idx (b)",
        "CREATE INDEX qt_idx_b_second ON qt_idx (b)",
        "CREATE INDEX qt_idx_b_c ON qt_idx (b, c)",
        "CREATE UNIQUE INDEX qt_idx_c_unique ON qt_idx (c)",
        "CREATE INDEX qt_idx_d_partial ON qt_idx (d) WHERE d = 1",
        "CREATE INDEX qt_idx_d_plain ON qt_idx (d)",
        "ANALYZE qt_idx",
    ):
        yield


def _names(indexes) -> set[str]:
    return {index.name for index in indexes}


def test_unused_indexes_leave_out_primary_and_unique_keys(index_table):
    report = index_report()
    unused = _names(report.unused)
    assert "qt_idx_a_never_used" in unused
    assert "qt_idx_pkey" not in unused
    assert "qt_idx_c_unique" not in unused


def test_an_index_that_was_scanned_is_not_unused(index_table):
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        conn.execute("SELECT * FROM qt_idx WHERE d = 2").fetchall()
    # The backend flushes its statistics as it exits, an instant after the client closes.
    assert wait_until(lambda: "qt_idx_d_plain" not in _names(index_report().unused))


def test_duplicates_and_prefixes_are_named_with_what_covers_them(index_table):
    redundant = {r.index.name: (r.kind, r.covered_by.name) for r in index_report().redundant}
    # Of two identical indexes, one is reported as the other's duplicate; the one kept is
    # itself a prefix of the two-column index.
    assert redundant["qt_idx_b_second"] == ("duplicate", "qt_idx_b_first")
    assert redundant["qt_idx_b_first"] == ("prefix", "qt_idx_b_c")
    # A partial index is not covered by a full one (different predicate); unique keys stay.
    assert "qt_idx_d_partial" not in redundant
    assert "qt_idx_c_unique" not in redundant
    assert "qt_idx_pkey" not in redundant
    assert "qt_idx_b_c" not in redundant


def test_prefix_redundancy_when_there_is_no_duplicate(index_table):
    as_owner("DROP INDEX qt_idx_b_second")
    redundant = {r.index.name: (r.kind, r.covered_by.name) for r in index_report().redundant}
    assert redundant["qt_idx_b_first"] == ("prefix", "qt_idx_b_c")


def test_invalid_index_left_by_a_failed_concurrent_build(index_table):
    with pytest.raises(psycopg.errors.UniqueViolation):
        as_owner("CREATE UNIQUE INDEX CONCURRENTLY qt_idx_a_invalid ON qt_idx (a)")
    assert "qt_idx_a_invalid" in _names(index_report().invalid)


def test_large_tables_read_by_sequential_scans(index_table):
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
        for _ in range(3):
            conn.execute("SELECT count(*) FROM qt_idx WHERE c + 0 > 10").fetchall()

    def listed():
        return [t for t in index_report(min_rows=1000).sequential if t["table_name"] == "qt_idx"]

    rows = wait_until(listed)
    assert rows and rows[0]["seq_scan"] >= 3 and rows[0]["live_rows"] >= 1000


def test_page_and_htmx_partial(viewer_client, htmx_headers, index_table):
    full = viewer_client.get("/queries/indexes/")
    assert full.status_code == 200
    body = full.content.decode()
    assert "<html" in body and 'id="unused-indexes"' in body
    assert "qt_idx_a_never_used" in body
    assert "DROP INDEX CONCURRENTLY public.qt_idx_b_second;" in body

    partial = viewer_client.get("/queries/indexes/", **htmx_headers)
    assert partial.status_code == 200
    fragment = partial.content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="report"')
    assert "qt_idx_a_never_used" in fragment
