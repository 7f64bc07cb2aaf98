"""Lend the audit trail's owner role to the console's role for one command, then take it back.

The console's database role may add audit events and read them, nothing else: the audit table
belongs to a role that cannot log in (`schemadesk_audit`). Django's migrations run as the
console's role, so the migration that creates or changes the audit table needs, for that run
only, the right to act as the owner (`SET ROLE`; with PostgreSQL 16+ without inheriting its
rights, so ordinary statements of the same sessions gain nothing). This module grants that
membership through an administrator's connection, runs the command, and revokes it whatever
the command's outcome:

    AUDIT_ADMIN_DATABASE_URL=postgresql://postgres:…@host/db \\
        python -m core.audit_owner -- python manage.py migrate --noinput

The administrator's URL is read from an environment variable named on the command line, never
from an argument (arguments show in `ps`), and is given only to this step, never to the
console's web or worker processes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from core.embedded import AUDIT_OWNER_ROLE, CONSOLE_ROLE

ADMIN_URL_VARIABLE = "AUDIT_ADMIN_DATABASE_URL"


class AuditOwnerError(RuntimeError):
    """The membership could not be granted or taken back; the message says what to do."""


def _grant_statement(server_version: int, owner_role: str, console_role: str) -> sql.Composed:
    if server_version >= 160000:
        # SET TRUE is what ALTER ... OWNER TO and SET ROLE need; INHERIT FALSE keeps the
        # owner's rights out of the console's ordinary statements while the loan lasts.
        return sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET TRUE").format(
            sql.Identifier(owner_role), sql.Identifier(console_role)
        )
    return sql.SQL("GRANT {} TO {}").format(
        sql.Identifier(owner_role), sql.Identifier(console_role)
    )


def is_member(conn: psycopg.Connection, console_role: str, owner_role: str) -> bool:
    """Return True when `console_role` belongs to `owner_role` (directly or not)."""
    row = conn.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER')", (console_role, owner_role)
    ).fetchone()
    return bool(row and row[0])


def revoke(admin_url: str, console_role: str, owner_role: str = AUDIT_OWNER_ROLE) -> None:
    """Take the membership back; raise AuditOwnerError when the console still holds it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(owner_role), sql.Identifier(console_role)
            )
        )
        if is_member(conn, console_role, owner_role):
            raise AuditOwnerError(
                f"Role {console_role} is still a member of {owner_role} (granted by another "
                f"role): as that role, run REVOKE {sql.Identifier(owner_role).as_string(conn)} "
                f"FROM {sql.Identifier(console_role).as_string(conn)};"
            )


@contextmanager
def audit_owner_lent(
    admin_url: str, console_role: str = CONSOLE_ROLE, owner_role: str = AUDIT_OWNER_ROLE
) -> Iterator[None]:
    """Let `console_role` act as `owner_role` inside the block; always revoked at the end."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner_role,))
        if exists.fetchone() is None:
            raise AuditOwnerError(
                f"The audit owner role {owner_role} does not exist: create it first "
                f"(CREATE ROLE {sql.Identifier(owner_role).as_string(conn)} NOLOGIN;), "
                "see the README."
            )
        conn.execute(_grant_statement(conn.info.server_version, owner_role, console_role))
    try:
        yield
    finally:
        revoke(admin_url, console_role, owner_role)


def _console_role_from_environment() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return (urlsplit(url).username if url else None) or CONSOLE_ROLE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command (Django's migrate) with the audit owner lent to the console."
    )
    parser.add_argument(
        "--admin-url-env",
        default=ADMIN_URL_VARIABLE,
        help="environment variable holding an administrator's URL (default: %(default)s)",
    )
    parser.add_argument("--console-role", default=None, help="default: DATABASE_URL's user")
    parser.add_argument("--owner-role", default=AUDIT_OWNER_ROLE)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    admin_url = os.environ.get(args.admin_url_env, "")
    if not admin_url:
        print(f"error: {args.admin_url_env} is not set", file=sys.stderr)
        return 2
    console_role = args.console_role or _console_role_from_environment()
    # The command must not see the administrator's URL.
    env = {key: value for key, value in os.environ.items() if key != args.admin_url_env}
    try:
        with audit_owner_lent(admin_url, console_role, args.owner_role):
            returncode = subprocess.run(command, env=env, check=False).returncode
    except (AuditOwnerError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return returncode


if __name__ == "__main__":
    sys.exit(main())
