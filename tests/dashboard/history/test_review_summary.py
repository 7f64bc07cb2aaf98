"""The summary of a revision: what it locks, in which mode, for how long, what is one-way."""

from __future__ import annotations

import pytest

from dashboard.history.review_locks import (
    ACCESS_EXCLUSIVE,
    INDEX_BUILD,
    METADATA,
    REWRITE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
)
from dashboard.history.review_session import session_states
from dashboard.history.review_statements import split_statements
from dashboard.history.review_summary import TableSize, revision_summary, with_sizes

SQL = """
SET lock_timeout = '5s';
BEGIN;
CREATE TABLE rv_tags (id bigint PRIMARY KEY, owner_id bigint REFERENCES rv_owners (id));
ALTER TABLE rv_owners ADD COLUMN label text;
ALTER TABLE rv_items ALTER COLUMN name TYPE varchar(200);
ALTER TABLE rv_items ADD CONSTRAINT fk_owner FOREIGN KEY (owner_id) REFERENCES rv_owners (id);
ALTER TABLE rv_items DROP COLUMN note;
UPDATE alembic_version SET version_num='002' WHERE alembic_version.version_num = '001';
COMMIT;
CREATE INDEX CONCURRENTLY ix_rv_items_name ON rv_items (name);
ALTER TABLE rv_owners ALTER COLUMN label SET DEFAULT 'x';
"""


def _summary(sql: str = SQL):
    statements = split_statements(sql)
    return statements, revision_summary(statements, session_states(statements), "alembic_version")


def _holds(summary) -> dict[tuple[str, int], object]:
    return {(hold.table, hold.first_number): hold for hold in summary.holds}


def test_locks_in_a_block_are_held_until_its_commit():
    statements, summary = _summary()

    def number(start: str) -> int:
        return next(n + 1 for n, s in enumerate(statements) if s.text.startswith(start))

    commit = number("COMMIT")
    holds = _holds(summary)
    # The new table's own locks do not count, but the table it references is locked.
    created = number("CREATE TABLE rv_tags")
    owners = holds[("rv_owners", created)]
    assert owners.mode == ACCESS_EXCLUSIVE  # the strongest it gets in the block
    assert owners.work == METADATA and owners.released_number == commit
    assert owners.statements == [created - 1, created, created + 2]  # 0-based: it is taken thrice
    # A catalog change held through the rewrite of another table lasts as long as that rewrite.
    assert [(n, lock.table, lock.work) for n, lock in owners.while_held] == [
        (created + 2, "rv_items", REWRITE),
        (created + 3, "rv_items", "full scan"),
    ]
    items = holds[("rv_items", created + 2)]
    assert (items.mode, items.work, items.blocks) == (ACCESS_EXCLUSIVE, REWRITE, "reads and writes")
    assert "changes the type of name" in items.what and "drops column note" in items.what
    # Outside the block: each statement is its own transaction.
    index = holds[("rv_items", number("CREATE INDEX CONCURRENTLY"))]
    assert (index.mode, index.work, index.released_number) == (
        SHARE_UPDATE_EXCLUSIVE,
        INDEX_BUILD,
        None,
    )
    assert summary.new_tables == ["rv_tags"]
    assert summary.lock_timeout == "5s" and summary.statement_timeout == ""
    assert summary.transactions == 1
    # Alembic's version table is bookkeeping: not a lock, not a one-way change.
    assert "alembic_version" not in summary.tables


def test_what_cannot_be_undone():
    statements, summary = _summary()
    assert [(statements[i].text, sentence) for i, sentence in summary.one_way] == [
        (
            "ALTER TABLE rv_items DROP COLUMN note",
            "Drops column rv_items.note and its values: the downgrade can add the column back, "
            "empty.",
        )
    ]
    _, more = _summary("DROP TABLE old; TRUNCATE logs; DELETE FROM events WHERE id < 5;")
    assert [sentence.split(" ", 1)[0] for _, sentence in more.one_way] == [
        "Drops",
        "Empties",
        "Deletes",
    ]


def test_a_foreign_key_locks_both_tables_against_writes():
    _, summary = _summary(
        "ALTER TABLE rv_items ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES rv_owners (id);"
    )
    assert {(h.table, h.mode, h.work) for h in summary.holds} == {
        ("rv_items", SHARE_ROW_EXCLUSIVE, "full scan"),
        ("rv_owners", SHARE_ROW_EXCLUSIVE, METADATA),
    }
    _, later = _summary(
        "ALTER TABLE rv_items ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES rv_owners (id) "
        "NOT VALID;"
    )
    assert {h.work for h in later.holds} == {METADATA}


def test_estimates_grow_with_the_size_and_a_catalog_change_alone_is_brief():
    _, summary = _summary()
    small = {
        "rv_items": TableSize(1000, 8 * 2**20, 2 * 2**20),
        "rv_owners": TableSize(10, 8192, 0),
    }
    big = {
        name: TableSize(s.rows * 100, s.total_bytes * 100, s.index_bytes * 100)
        for name, s in small.items()
    }
    times = [
        {(h.table, h.first_number): h.seconds for h in with_sizes(_summary()[1], sizes).holds}
        for sizes in (small, big)
    ]
    for key, seconds in times[0].items():
        if seconds:
            assert times[1][key] == pytest.approx(seconds * 100)
    holds = _holds(with_sizes(summary, small))
    owners = next(
        h for (table, _), h in holds.items() if table == "rv_owners" and h.released_number
    )
    items = next(h for (table, _), h in holds.items() if table == "rv_items" and h.released_number)
    assert owners.seconds == items.seconds > 0  # both held through the rewrite and the scan
    default = next(h for h in holds.values() if h.what == ["sets the default of label"])
    assert default.seconds == 0 and default.released_number is None
    assert owners.size == small["rv_owners"]
    # Unknown sizes make an unknown estimate, never a made-up one.
    unknown = _holds(with_sizes(_summary()[1], {}))
    assert all(h.seconds is None for h in unknown.values() if h.heavy_during)
    assert next(h for h in unknown.values() if h.heavy_during).unknown_sizes == ["rv_items"]
