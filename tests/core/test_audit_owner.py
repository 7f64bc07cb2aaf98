"""Lending the audit owner to the console's role: granted for the command, always taken back."""

from __future__ import annotations

import re
import sys

import psycopg
import pytest
from psycopg import sql

from core.audit_owner import AuditOwnerError, audit_owner_lent, is_member, main
from core.embedded import AUDIT_OWNER_ROLE, CONSOLE_ROLE


def console_is_member(superuser_url: str) -> bool:
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        return is_member(conn, CONSOLE_ROLE, AUDIT_OWNER_ROLE)


class Boom(Exception):
    pass


def test_the_membership_lasts_for_the_block_only(superuser_url):
    assert not console_is_member(superuser_url)
    with audit_owner_lent(superuser_url, CONSOLE_ROLE):
        assert console_is_member(superuser_url)
    assert not console_is_member(superuser_url)


def test_the_membership_is_taken_back_when_the_block_fails(superuser_url):
    with pytest.raises(Boom), audit_owner_lent(superuser_url, CONSOLE_ROLE):
        raise Boom
    assert not console_is_member(superuser_url)


def test_a_missing_owner_role_is_a_sentence(superuser_url):
    with (
        pytest.raises(AuditOwnerError, match='CREATE ROLE "no_such_owner" NOLOGIN'),
        audit_owner_lent(superuser_url, CONSOLE_ROLE, "no_such_owner"),
    ):
        pass


def test_the_statement_a_refusal_gives_runs_as_written_for_an_odd_name(superuser_url):
    odd = 'Audit "Owner" 2'
    with (
        pytest.raises(AuditOwnerError) as refusal,
        audit_owner_lent(superuser_url, CONSOLE_ROLE, odd),
    ):
        pass  # pragma: no cover - refused before
    statement = re.search(r"\((CREATE ROLE .*?;)\)", str(refusal.value)).group(1)
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute(statement)
        try:
            with audit_owner_lent(superuser_url, CONSOLE_ROLE, odd):
                assert is_member(conn, CONSOLE_ROLE, odd)
            assert not is_member(conn, CONSOLE_ROLE, odd)
        finally:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(odd)))


def test_the_command_runs_with_the_membership_and_without_the_admin_url(superuser_url, monkeypatch):
    monkeypatch.setenv("AUDIT_ADMIN_DATABASE_URL", superuser_url)
    child = (
        "import os, sys, psycopg\n"
        "assert 'AUDIT_ADMIN_DATABASE_URL' not in os.environ\n"
        "with psycopg.connect(os.environ['DATABASE_URL']) as conn:\n"
        "    row = conn.execute(\"SELECT pg_has_role(current_user, %s, 'MEMBER')\", "
        f"({AUDIT_OWNER_ROLE!r},)).fetchone()\n"
        "sys.exit(7 if row[0] else 1)\n"
    )
    assert main(["--", sys.executable, "-c", child]) == 7
    assert not console_is_member(superuser_url)


def test_the_command_needs_the_admin_url(monkeypatch, capsys):
    monkeypatch.delenv("AUDIT_ADMIN_DATABASE_URL", raising=False)
    assert main(["--", sys.executable, "-c", "pass"]) == 2
    assert "AUDIT_ADMIN_DATABASE_URL is not set" in capsys.readouterr().err
