"""The session state a migration script has at each statement: timeouts and transactions."""

from __future__ import annotations

from dashboard.history.review_session import session_states
from dashboard.history.review_statements import split_statements


def _states(sql: str) -> dict[str, tuple[str, str, int]]:
    """Return (lock_timeout, statement_timeout, transaction) by statement text."""
    statements = split_statements(sql)
    return {
        statement.text: (state.lock_timeout, state.statement_timeout, state.transaction)
        for statement, state in zip(statements, session_states(statements), strict=True)
    }


def test_a_set_holds_from_the_next_statement_across_transactions():
    states = _states(
        """
        ALTER TABLE a ADD COLUMN x int;
        SET lock_timeout = '5s';
        BEGIN;
        ALTER TABLE b ADD COLUMN x int;
        COMMIT;
        ALTER TABLE c ADD COLUMN x int;
        """
    )
    assert states["ALTER TABLE a ADD COLUMN x int"] == ("", "", 0)
    assert states["BEGIN"] == ("5s", "", 1)  # BEGIN and COMMIT belong to their block
    assert states["ALTER TABLE b ADD COLUMN x int"] == ("5s", "", 1)
    assert states["COMMIT"] == ("5s", "", 1)
    assert states["ALTER TABLE c ADD COLUMN x int"] == ("5s", "", 0)


def test_set_local_lasts_until_commit_and_does_nothing_outside_a_block():
    states = _states(
        """
        SET LOCAL lock_timeout = '1s';
        ALTER TABLE a ADD COLUMN x int;
        BEGIN;
        SET LOCAL lock_timeout = '2s';
        ALTER TABLE b ADD COLUMN x int;
        COMMIT;
        BEGIN;
        ALTER TABLE c ADD COLUMN x int;
        COMMIT;
        """
    )
    assert states["ALTER TABLE a ADD COLUMN x int"][0] == ""
    assert states["ALTER TABLE b ADD COLUMN x int"] == ("2s", "", 1)
    assert states["ALTER TABLE c ADD COLUMN x int"] == ("", "", 2)


def test_zero_reset_rollback_and_set_config():
    states = _states(
        """
        SET statement_timeout = '15min';
        SET lock_timeout = 0;
        ALTER TABLE a ADD COLUMN x int;
        SELECT set_config('lock_timeout', '3s', false);
        ALTER TABLE b ADD COLUMN x int;
        BEGIN;
        SET lock_timeout TO DEFAULT;
        ALTER TABLE c ADD COLUMN x int;
        ROLLBACK;
        ALTER TABLE d ADD COLUMN x int;
        RESET ALL;
        ALTER TABLE e ADD COLUMN x int;
        """
    )
    assert states["ALTER TABLE a ADD COLUMN x int"] == ("", "15min", 0)  # 0 turns it off
    assert states["ALTER TABLE b ADD COLUMN x int"] == ("3s", "15min", 0)
    assert states["ALTER TABLE c ADD COLUMN x int"] == ("", "15min", 1)
    assert states["ALTER TABLE d ADD COLUMN x int"] == ("3s", "15min", 0)  # rolled back
    assert states["ALTER TABLE e ADD COLUMN x int"] == ("", "", 0)


def test_an_integer_timeout_is_milliseconds():
    states = _states("SET lock_timeout = 5000; ALTER TABLE a ADD COLUMN x int;")
    assert states["ALTER TABLE a ADD COLUMN x int"][0] == "5000 ms"
