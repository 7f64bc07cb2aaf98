"""The login role of a local branch: its name, its password, and making and dropping it.

Each local branch database gets a role of its own, named like the database, that owns the
database and everything restored into it, and is the only role (besides the console's
maintenance role, which is made a member of it to manage the branch) allowed to connect: CONNECT
is revoked from PUBLIC on the branch. Revealed connection strings name this role, so they open
the branch and nothing else; the console's roles' passwords are never shown.

The maintenance role has no CREATEROLE (on PostgreSQL 15 and older it could grant itself any
role, the audit trail's owner included): it makes, re-keys and drops the role through the
SECURITY DEFINER functions of core/branch_roles.py, which refuse any other role.

Where the password lives: nowhere. It is derived when needed as an HMAC-SHA256, keyed with the
console's SECRET_KEY, of the role's name and OID, so it is neither stored in the `django` schema
nor anywhere else, only a holder of SECRET_KEY can compute it, it survives a reset of the branch
(the role stays), and a branch deleted and made again under the same name (a new role, a new
OID) gets another one. The server receives only a SCRAM-SHA-256 verifier computed here, so the clear
password never appears in a statement (server logs, pg_stat_statements). Rotating SECRET_KEY
changes the derived passwords: reset a branch to give its role the new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from core.branch_roles import BRANCH_ROLE_COMMENT, ROLE_SCHEMA
from dashboard.branches.local_catalog import (
    BRANCH_ROLE_SQL,
    CREATE_BRANCH_ROLE_SQL,
    DROP_BRANCH_ROLE_SQL,
    SET_BRANCH_ROLE_PASSWORD_SQL,
)
from dashboard.branches.provider import BranchError

SCRAM_ITERATIONS = 4096  # Postgres' default scram_iterations


def branch_role_password(secret: str, role: str, oid: int) -> str:
    """Return the password of a branch's role (43 URL-safe characters; a secret)."""
    if not secret:
        raise BranchError("SECRET_KEY is empty, so no branch role password can be derived.")
    message = f"schemadesk local branch role\0{role}\0{oid}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """Return the SCRAM-SHA-256 verifier Postgres stores for this password (RFC 5802/7677)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_state(conn: psycopg.Connection, role: str) -> tuple[str, int | None]:
    """Return ('absent' | 'ours' | 'foreign', OID) for a role name ('ours': made for a branch)."""
    row = conn.execute(BRANCH_ROLE_SQL, {"role": role}).fetchone()
    if row is None:
        return "absent", None
    oid, comment = row
    return ("ours" if comment == BRANCH_ROLE_COMMENT else "foreign"), int(oid)


def ensure_branch_role(conn: psycopg.Connection, role: str, secret: str) -> None:
    """Create the branch's login role (or set its derived password again) and join it.

    Runs inside the caller's transaction, through the branch roles' functions: the maintenance
    role becomes a member of the branch role so that it may create the database owned by it,
    restore into it as it, read its schema and drop it.
    """
    state, _ = role_state(conn, role)
    if state == "foreign":
        raise BranchError(
            f"A role named {role} exists already and was not made by the console for a "
            "branch, so it is left alone: pick another branch name."
        )
    with _functions_refusing(role):
        row = conn.execute(CREATE_BRANCH_ROLE_SQL, {"role": role}).fetchone()
        assert row is not None  # a function call answers one row
        verifier = scram_verifier(branch_role_password(secret, role, int(row[0])))
        conn.execute(SET_BRANCH_ROLE_PASSWORD_SQL, {"role": role, "verifier": verifier})


def drop_branch_role(conn: psycopg.Connection, role: str) -> None:
    """Drop the branch's role if it is one made here (a role of another origin is kept)."""
    if role_state(conn, role)[0] != "ours":
        return
    try:
        with _functions_refusing(role), conn.transaction():  # a savepoint: a refusal keeps it
            conn.execute(DROP_BRANCH_ROLE_SQL, {"role": role})
    except BranchRefused:
        return  # marked, yet more than a branch's role (a superuser changed it): kept
    except psycopg.errors.DependentObjectsStillExist as exc:
        raise BranchError(
            f"The branch's role {role} could not be dropped: it still owns or may use objects "
            "outside its database. Drop them (or REASSIGN OWNED BY it in that database) and "
            "delete the branch again.",
            f"{type(exc).__name__}: {exc}",
        ) from None


class BranchRefused(BranchError):
    """The branch roles' functions refused the role: not one they made, or not a branch's."""


@contextmanager
def _functions_refusing(role: str) -> Iterator[None]:
    """Turn the branch roles' functions' refusals (or their absence) into a BranchError."""
    try:
        yield
    except psycopg.errors.InvalidParameterValue as exc:
        raise BranchRefused(
            f"The database refused to manage role {role}: {exc.diag.message_primary}",
            f"{type(exc).__name__}: {exc}",
        ) from None
    except (psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedFunction) as exc:
        raise BranchError(
            f"Local branches' roles are made by the functions of schema {ROLE_SCHEMA}, which "
            "this database lacks: run manage.py connect again with a superuser's "
            "ADMIN_DATABASE_URL, or the README's setup by hand, or use BRANCH_PROVIDER=neon.",
            f"{type(exc).__name__}: {exc}",
        ) from None
