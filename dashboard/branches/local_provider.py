"""Local branches: a branch is a new database on the target's server, cloned from the target.

The clone is `pg_dump | pg_restore` into a freshly created database, so it works while other
sessions (the console, the application) are connected to the source; `CREATE DATABASE ...
TEMPLATE` would need the source to be idle. The console's own schema (`django`) is left out.
Everything the console knows about a branch lives on the server: the database name
(`<target>__br__<name>`) and a JSON `COMMENT ON DATABASE` (name, parent, state, expiry), so
the list is stateless and survives restarts.

Each branch has a login role of its own (local_roles.py) that owns the branch database and
everything in it, and is the only one besides the maintenance role allowed to connect to it;
that role is what connection strings reveal. It is dropped with the branch.

Everything here runs as the console's maintenance role (TARGET_MAINTENANCE_DATABASE_URL, else
the target's URL), never as its reader: it needs CREATEDB, EXECUTE on the branch roles'
functions (core/branch_roles.py; never CREATEROLE itself), and must read every row of the target
for pg_dump (SELECT on the tables and sequences, BYPASSRLS or ownership where row-level security
is on).

This module writes through maintenance connections of its own (autocommit, never the read-only
gateway). Their timeouts are transaction-local (`set_config(..., true)` inside a transaction),
and CREATE/DROP DATABASE, which cannot run in a transaction, are cancelled from the client
instead: a session-wide setting would stay on a server connection that a transaction-mode
pooler (PgBouncer, Neon's -pooler) hands to the next client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from core.branch_roles import ROLE_SCHEMA
from dashboard.branches.client_tools import client_bindir
from dashboard.branches.dump_restore import (
    clean_child_environment,
    dump_and_restore,
    schema_only_dump,
    unified_schema_diff,
)
from dashboard.branches.local_catalog import (
    BRANCH_DATABASES_SQL,
    COPYABLE_EXTENSIONS_SQL,
    DATABASE_EXISTS_SQL,
    ROLE_OTHER_DATABASES_SQL,
    SERVER_MAJOR_SQL,
)
from dashboard.branches.local_names import (
    BRANCH_MARKER,
    BranchNote,
    _with_state,
    branch_database_name,
)
from dashboard.branches.local_roles import (
    branch_role_password,
    drop_branch_role,
    ensure_branch_role,
    role_state,
)
from dashboard.branches.provider import (
    CREATING,
    FAILED,
    READY,
    UNKNOWN,
    BranchError,
    BranchInfo,
    ConnectionUrls,
    Progress,
)
from dashboard.branches.server_address import ServerAddress, _libpq_url
from dashboard.console_work import APPLICATION_NAME
from dashboard.suggested_sql import quote_identifier

# Re-exported: migration trial runs, the create form and tests import these from here.
__all__ = [
    "LocalProvider",
    "branch_database_name",
    "clean_child_environment",
    "client_bindir",
    "schema_only_dump",
    "unified_schema_diff",
]

_STATE_OF = {"creating": CREATING, "ready": READY, "failed": FAILED}


def _noop(_: str) -> None:
    return None


class LocalProvider:
    """Branches as cloned databases on the target's own server."""

    name = "local"
    supports_reset = True
    supports_schema_diff = True
    supports_point_in_time = False

    def __init__(
        self,
        maintenance_url: str,
        *,
        secret: str,
        clone_timeout_s: float = 900,
        connect_timeout_s: int = 5,
        statement_timeout_ms: int = 60_000,
        lock_timeout_ms: int = 10_000,
    ) -> None:
        self._server = ServerAddress(_libpq_url(maintenance_url))
        self._secret = secret  # derives the branch roles' passwords (local_roles.py)
        self.clone_timeout_s = clone_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms

    @classmethod
    def from_settings(cls) -> LocalProvider:
        """Return a provider for the target database of the console's settings."""
        from django.conf import settings

        from dashboard.target import maintenance_url

        return cls(
            maintenance_url(),
            secret=settings.SECRET_KEY,
            clone_timeout_s=float(getattr(settings, "LOCAL_BRANCH_CLONE_TIMEOUT_S", 900)),
            connect_timeout_s=int(settings.TARGET["CONNECT_TIMEOUT_S"]),
        )

    def __repr__(self) -> str:
        return f"LocalProvider({self._server.location})"

    @property
    def target_database(self) -> str:
        return self._server.dbname

    @property
    def _prefix(self) -> str:
        return f"{self.target_database}{BRANCH_MARKER}"

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def maintenance_connection(self) -> Iterator[psycopg.Connection]:
        """Yield an autocommit connection to the target database as the maintenance role.

        Not the console's read-only gateway: CREATE/DROP DATABASE and COMMENT ON DATABASE are
        writes that cannot all run inside a transaction. It carries no session settings: run
        statements in bounded() or, for those that cannot be in a transaction, outside().
        """
        try:
            conn = psycopg.connect(
                self._server.url,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name=APPLICATION_NAME,
            )
        except psycopg.OperationalError as exc:
            raise BranchError(
                f"The database server ({self._server.location}) is not reachable, so no "
                "branch could be made or read. Check that it is running.",
                f"{type(exc).__name__}: {exc}",
            ) from None
        try:
            yield conn
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BranchError(
                "The console's maintenance role (TARGET_MAINTENANCE_DATABASE_URL) may not do "
                "this: local branches need CREATEDB, EXECUTE on the functions of schema "
                f"{ROLE_SCHEMA} and SELECT on every table and sequence of the target (run "
                "manage.py connect, or the README's setup by hand), or use BRANCH_PROVIDER=neon.",
                f"{type(exc).__name__}: {exc}",
            ) from None
        finally:
            conn.close()

    @contextmanager
    def bounded(self, conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
        """Run the block in one transaction with transaction-local statement and lock timeouts."""
        with conn.transaction():
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true), "
                "set_config('lock_timeout', %s, true)",
                (f"{self.statement_timeout_ms}ms", f"{self.lock_timeout_ms}ms"),
            )
            yield conn

    def outside(self, conn: psycopg.Connection, statement: sql.SQL | sql.Composed) -> None:
        """Run a statement that cannot be in a transaction, cancelled after statement_timeout.

        The cancel comes from the client, so no setting is left on the server connection.
        """
        timer = threading.Timer(self.statement_timeout_ms / 1000, conn.cancel_safe)
        timer.start()
        try:
            conn.execute(statement)
        except psycopg.errors.QueryCanceled:
            raise BranchError(
                f"The database server did not finish {statement.as_string(conn).split()[0]} "
                f"within {self.statement_timeout_ms / 1000:g} s; try again in a moment."
            ) from None
        finally:
            timer.cancel()

    # -- reading ----------------------------------------------------------------------------

    def _info(self, dbname: str, comment: str | None, size_bytes: int | None) -> BranchInfo:
        note = BranchNote.from_comment(comment, dbname[len(self._prefix) :])
        if note is None:
            return BranchInfo(
                id=dbname,
                name=dbname[len(self._prefix) :],
                state=UNKNOWN,
                parent_id=self.target_database,
                parent_name=self.target_database,
                size_bytes=size_bytes,
                raw_state="no branch note",
            )
        return BranchInfo(
            id=dbname,
            name=note.name,
            state=_STATE_OF.get(note.state, UNKNOWN),
            parent_id=note.parent or self.target_database,
            parent_name=note.parent[len(self._prefix) :]
            if note.parent.startswith(self._prefix)
            else note.parent,
            created_at=note.created_at,
            expires_at=note.expires_at,
            size_bytes=size_bytes,
            raw_state=note.state,
            extra={"schema_only": note.schema_only, "error": note.error, "database": dbname},
        )

    def list_branches(self) -> list[BranchInfo]:
        """Return every branch of the target database, by name."""
        with self.maintenance_connection() as conn, self.bounded(conn):
            rows = conn.execute(BRANCH_DATABASES_SQL, {"prefix": self._prefix}).fetchall()
        return [self._info(dbname, comment, size) for dbname, comment, size in rows]

    def get_branch(self, branch_id: str) -> BranchInfo:
        """Return one branch, or raise BranchError if there is none with that id."""
        self._check_branch_id(branch_id)
        for branch in self.list_branches():
            if branch.id == branch_id:
                return branch
        raise BranchError(f"There is no branch {branch_id!r} (it may have been deleted).")

    def expired_branches(self, now: datetime | None = None) -> list[BranchInfo]:
        """Return the branches whose expiry time has passed."""
        moment = now or datetime.now(UTC)
        return [b for b in self.list_branches() if b.expires_at and b.expires_at <= moment]

    def _check_branch_id(self, branch_id: str) -> None:
        if not branch_id.startswith(self._prefix):
            raise BranchError(f"There is no branch {branch_id!r} of {self.target_database}.")
        branch_database_name(self.target_database, branch_id[len(self._prefix) :])

    def _database_exists(self, conn: psycopg.Connection, dbname: str) -> bool:
        return conn.execute(DATABASE_EXISTS_SQL, {"dbname": dbname}).fetchone() is not None

    def _write_note(self, conn: psycopg.Connection, dbname: str, note: BranchNote) -> None:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(dbname), sql.Literal(note.to_comment())
            )
        )

    # -- creating ---------------------------------------------------------------------------

    def create_branch(
        self,
        name: str,
        *,
        parent_id: str | None = None,
        point_in_time: datetime | None = None,
        schema_only: bool = False,
        expires_at: datetime | None = None,
        progress: Progress | None = None,
    ) -> BranchInfo:
        """Create branch `name` as a clone of the parent (the target by default) and return it."""
        say = progress or _noop
        if point_in_time is not None:
            raise BranchError(
                "Local branches copy the database as it is now; point-in-time branches need "
                "BRANCH_PROVIDER=neon."
            )
        dbname = branch_database_name(self.target_database, name)
        parent = parent_id or self.target_database
        if parent != self.target_database:
            self._check_branch_id(parent)
        with self.maintenance_connection() as conn, self.bounded(conn):
            if not self._database_exists(conn, parent):
                raise BranchError(f"The parent database {parent!r} does not exist.")
            if self._database_exists(conn, dbname):
                raise BranchError(
                    f"A branch named {name!r} exists already: delete it or pick another name."
                )
        note = BranchNote(
            name=name,
            parent=parent,
            state="creating",
            created_at=datetime.now(UTC),
            expires_at=expires_at,
            schema_only=schema_only,
        )
        self._clone_into_new_database(parent, dbname, note, say)
        return self.get_branch(dbname)

    def _clone_into_new_database(
        self, parent: str, dbname: str, note: BranchNote, say: Progress
    ) -> None:
        """Make the branch's role and database and copy the parent into it, or leave nothing."""
        started = time.monotonic()
        role = dbname  # the branch's own role is named like its database
        created = False
        try:
            say(f"Creating role and database {dbname}")
            with self.maintenance_connection() as conn:
                with self.bounded(conn):
                    ensure_branch_role(conn, role, self._secret)
                # template0: a bare database whatever template1 holds; the dump brings the rest.
                self.outside(
                    conn,
                    sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                        sql.Identifier(dbname), sql.Identifier(role)
                    ),
                )
                created = True
                with self.bounded(conn):
                    # Only the branch's role (and its members) may connect to the branch.
                    conn.execute(
                        sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                            sql.Identifier(dbname)
                        )
                    )
                    self._write_note(conn, dbname, note)
                    major = conn.execute(SERVER_MAJOR_SQL).fetchone()[0]  # type: ignore[index]  # one row
                    extensions = conn.execute(COPYABLE_EXTENSIONS_SQL).fetchall()
            bindir = client_bindir(int(major))
            skipped = [ext for ext, copyable in extensions if not copyable]
            if skipped:
                say("Not copying extension(s) only a superuser may create: " + ", ".join(skipped))
            what = "schema" if note.schema_only else "schema and data"
            say(f"Copying the {what} of {parent} (pg_dump | pg_restore) as role {role}")
            self._dump_and_restore(
                bindir,
                parent,
                dbname,
                schema_only=note.schema_only,
                extensions=[ext for ext, copyable in extensions if copyable],
                role=role,
            )
        except (BranchError, psycopg.Error) as exc:
            say(f"Copy failed; dropping {dbname} and its role")
            self._drop_branch(dbname, database=created)
            if isinstance(exc, BranchError):
                raise
            raise BranchError(
                f"The branch could not be made: {type(exc).__name__}.", f"{exc}"
            ) from None
        with self.maintenance_connection() as conn, self.bounded(conn):
            self._write_note(conn, dbname, _with_state(note, "ready"))
        say(f"Branch ready in {time.monotonic() - started:.1f} s")

    def _dump_and_restore(
        self,
        bindir: Path,
        source: str,
        destination: str,
        *,
        schema_only: bool,
        extensions: list[str],
        role: str,
    ) -> None:
        """Stream pg_dump of `source` into pg_restore (as `role`) on `destination`.

        pg_restore sets session-wide settings on its connection (search_path '', SET ROLE,
        check_function_bodies, ...). Behind a transaction-mode pooler they would stay on the
        server connection it used, the only one of its pool (nothing else connects to a new
        branch as the maintenance role), so the next client of that pool clears them with DISCARD
        ALL; on a direct connection that is a fresh session and a no-op. (pg_dump's session
        ends inside its transaction, so a pooler closes that server connection instead.)
        """
        dump_and_restore(
            self._server,
            bindir,
            source,
            destination,
            schema_only=schema_only,
            extensions=extensions,
            timeout_s=self.clone_timeout_s,
            role=role,
        )
        try:
            with psycopg.connect(
                self._server.with_database(destination),
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name=APPLICATION_NAME,
            ) as conn:
                conn.execute("DISCARD ALL")
        except psycopg.Error as exc:
            raise BranchError(
                f"The copy into {destination} finished, but its session could not be reset.",
                f"{type(exc).__name__}: {exc}",
            ) from None

    # -- deleting and resetting -------------------------------------------------------------

    def _drop_database(self, dbname: str) -> None:
        with self.maintenance_connection() as conn:
            if conn.info.server_version >= 130000:
                self.outside(
                    conn,
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    ),
                )
            else:
                with self.bounded(conn):
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        (dbname,),
                    )
                self.outside(
                    conn, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname))
                )

    def _drop_branch(self, dbname: str, *, database: bool = True) -> None:
        """Drop the branch's database (when asked) and then its role."""
        if database:
            self._drop_database(dbname)
        with self.maintenance_connection() as conn, self.bounded(conn):
            drop_branch_role(conn, dbname)

    def delete_branch(self, branch_id: str) -> None:
        """Drop the branch's database (disconnecting its sessions) and its role."""
        branch = self.get_branch(branch_id)
        if branch.id == self.target_database or not branch.id.startswith(self._prefix):
            raise BranchError("Only branch databases can be deleted here.")
        self._drop_branch(branch.id)

    def reset_branch(
        self,
        branch_id: str,
        progress: Progress | None = None,
        *,
        preserve_under_name: str | None = None,
    ) -> BranchInfo:
        """Re-clone the branch from its parent (its own changes are lost) and return it.

        Local clones do not depend on each other, so children never need preserving and
        preserve_under_name is refused.
        """
        if preserve_under_name:
            raise BranchError("Local branches keep no state under another name on reset.")
        say = progress or _noop
        branch = self.get_branch(branch_id)
        note = BranchNote(
            name=branch.name,
            parent=branch.parent_id or self.target_database,
            state="creating",
            created_at=datetime.now(UTC),
            expires_at=branch.expires_at,
            schema_only=bool(branch.extra.get("schema_only")),
        )
        say(f"Dropping {branch.id} to clone it again from {note.parent}")
        self._drop_database(branch.id)  # its role, and so its password, stays
        self._clone_into_new_database(note.parent, branch.id, note, say)
        return self.get_branch(branch.id)

    def children_blocking_reset(self, branch_id: str) -> list[str]:
        """Return [] : a local branch's children are separate copies a reset does not touch."""
        return []

    # -- waiting, URLs, schema diff ---------------------------------------------------------

    def wait_until_ready(
        self, branch_id: str, deadline_seconds: float, progress: Progress | None = None
    ) -> BranchInfo:
        """Return the branch once ready (local branches are ready when create returns)."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            branch = self.get_branch(branch_id)
            if branch.state == READY:
                return branch
            if branch.state == FAILED:
                reason = branch.extra.get("error") or "see the worker's log"
                raise BranchError(f"Branch {branch.name!r} failed to copy: {reason}")
            if time.monotonic() >= deadline:
                raise BranchError(
                    f"Branch {branch.name!r} was not ready after {deadline_seconds:.0f} s."
                )
            if progress:
                progress(f"Waiting for branch {branch.name} ({branch.raw_state})")
            time.sleep(0.5)

    def connection_urls(self, branch_id: str) -> ConnectionUrls:
        """Return the branch's URL as its own role, with the derived password.

        A branch made before branches had a role of their own has none to reveal: the target
        role's password (which opens production) is never shown instead. The warning names every
        other database of the server the role may still connect to (CONNECT granted to PUBLIC
        there, as on `postgres` and `template1` by default), though it holds no rights on
        their tables.
        """
        branch = self.get_branch(branch_id)
        role = branch.id
        with self.maintenance_connection() as conn, self.bounded(conn):
            state, oid = role_state(conn, role)
            if state != "ours" or oid is None:
                raise BranchError(
                    f"Branch {branch.name} has no role of its own (it was made before branches "
                    "had one), and the target's role is never revealed: reset the branch to "
                    "give it one."
                )
            others = [
                name
                for (name,) in conn.execute(
                    ROLE_OTHER_DATABASES_SQL, {"role": role, "branch": branch.id}
                ).fetchall()
            ]
        password = branch_role_password(self._secret, role, oid)
        url = self._server.with_login(role, password, branch.id)
        warning = ""
        if others:
            listed = ", ".join(quote_identifier(name) for name in others)
            warning = (
                f"The server still lets role {role} connect to {listed}, because CONNECT is "
                "granted to PUBLIC there; it holds no rights on their tables. To close that door: "
                f"REVOKE CONNECT ON DATABASE {listed} FROM PUBLIC, and GRANT CONNECT to the "
                "roles that need it."
            )
        return ConnectionUrls(pooled=url, direct=url, role=role, warning=warning)

    def connection_urls_without_password(self, branch_id: str) -> ConnectionUrls:
        """Return the branch's URL as its own role, without a password (nothing is read)."""
        self._check_branch_id(branch_id)
        url = self._server.with_login(branch_id, None, branch_id)
        return ConnectionUrls(pooled=url, direct=url, role=branch_id)

    def migration_url(self, branch_id: str) -> str:
        """Return the URL trial runs migrate with: the branch's role, which owns everything."""
        return self.connection_urls(branch_id).direct

    def schema_text(self, dbname: str) -> str:
        """Return the normalised schema-only dump of one database on the target's server."""
        with self.maintenance_connection() as conn, self.bounded(conn):
            major = conn.execute(SERVER_MAJOR_SQL).fetchone()[0]  # type: ignore[index]  # one row
        return schema_only_dump(
            self._server.with_database(dbname), client_bindir(int(major)), self.clone_timeout_s
        )

    def schema_diff(self, branch_id: str) -> str:
        """Return a unified diff of the parent's schema against the branch's ('' if equal)."""
        branch = self.get_branch(branch_id)
        parent = branch.parent_id or self.target_database
        return unified_schema_diff(
            self.schema_text(parent), self.schema_text(branch.id), parent, branch.id
        )
