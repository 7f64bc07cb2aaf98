"""The login role of a local branch: its name, its password, and making and dropping it.

Each local branch database gets a role of its own, named like the database, that owns the
database and everything restored into it, and is the only role (besides the console's
maintenance role, which is made a member of it to manage the branch) allowed to connect: CONNECT
is revoked from PUBLIC on the branch. Revealed connection strings name this role, so they open
the branch and nothing else; the console's roles' passwords are never shown.

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

import psycopg
from psycopg import sql

from dashboard.branches.local_catalog import BRANCH_ROLE_SQL
from dashboard.branches.provider import BranchError

ROLE_MARKER = "schemadesk-branch-role"  # COMMENT ON ROLE of the roles made here
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
    return ("ours" if comment == ROLE_MARKER else "foreign"), int(oid)


def ensure_branch_role(conn: psycopg.Connection, role: str, secret: str) -> None:
    """Create the branch's login role (or set its derived password again) and join it.

    Runs inside the caller's transaction. The maintenance role needs CREATEROLE; it becomes a
    member of the branch role so that it may create the database owned by it, restore into it
    as it, read its schema and drop it.
    """
    state, _ = role_state(conn, role)
    if state == "foreign":
        raise BranchError(
            f"A role named {role} exists already and was not made by the console for a "
            "branch, so it is left alone: pick another branch name."
        )
    name = sql.Identifier(role)
    if state == "absent":
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS"
            ).format(name)
        )
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(name, sql.Literal(ROLE_MARKER)))
    _, oid = role_state(conn, role)
    assert oid is not None
    verifier = sql.Literal(scram_verifier(branch_role_password(secret, role, oid)))
    conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(name, verifier))
    conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(name))


def drop_branch_role(conn: psycopg.Connection, role: str) -> None:
    """Drop the branch's role if it is one made here (a role of another origin is kept)."""
    if role_state(conn, role)[0] != "ours":
        return
    try:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    except psycopg.errors.DependentObjectsStillExist as exc:
        raise BranchError(
            f"The branch's role {role} could not be dropped: it still owns or may use objects "
            "outside its database. Drop them (or REASSIGN OWNED BY it in that database) and "
            "delete the branch again.",
            f"{type(exc).__name__}: {exc}",
        ) from None
