"""Local branches: a branch is a new database on the target's server, cloned from the target.

The clone is `pg_dump | pg_restore` into a freshly created database, so it works while other
sessions (the console, the application) are connected to the source; `CREATE DATABASE ...
TEMPLATE` would need the source to be idle. The console's own schema (`django`) is left out.
Everything the console knows about a branch lives on the server: the database name
(`<target>__br__<name>`) and a JSON `COMMENT ON DATABASE` (name, parent, state, expiry), so
the list is stateless and survives restarts.

Connection URLs contain the target's password: they are built on request and never logged.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

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

logger = logging.getLogger(__name__)

BRANCH_MARKER = "__br__"
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1
EXCLUDED_SCHEMAS = ("django",)  # the console's own tables never go to a branch
COMMENT_KIND = "schemadesk-branch"
CLIENT_TOOLS = ("pg_dump", "pg_restore")
_STATE_OF = {"creating": CREATING, "ready": READY, "failed": FAILED}


def _noop(_: str) -> None:
    return None


# --------------------------------------------------------------------------------------------
# PostgreSQL client binaries (pg_dump, pg_restore), at least as new as the server


def _tool_major_version(path: Path) -> int | None:
    """Return the major version printed by `<tool> --version`, or None."""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(path))) or (0,)


def _candidate_bindirs() -> list[Path]:
    """Return folders that may hold pg_dump, best first (PG_BINDIR, the cluster's, PATH, known)."""
    folders: list[Path] = []
    from core.pgcluster import PostgresNotFound, find_bindir

    try:
        folders.append(find_bindir())
    except PostgresNotFound:  # no server binaries is fine: the client tools may be on PATH
        logger.debug("no PostgreSQL server binaries found; looking for client tools on PATH")
    on_path = shutil.which("pg_dump")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    for pattern in ("usr/lib/postgresql/*/bin", "usr/pgsql-*/bin", "opt/homebrew/opt/*/bin"):
        folders.extend(sorted(Path("/").glob(pattern), key=_version_key, reverse=True))
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def client_bindir(server_major: int) -> Path:
    """Return a folder whose pg_dump and pg_restore are at least `server_major`."""
    seen: list[str] = []
    for folder in _candidate_bindirs():
        if not all((folder / tool).is_file() for tool in CLIENT_TOOLS):
            continue
        major = _tool_major_version(folder / "pg_dump")
        seen.append(f"{folder} ({major})")
        if major is not None and major >= server_major:
            return folder
    found = ", ".join(seen) or "none"
    raise BranchError(
        f"pg_dump and pg_restore version {server_major} or newer are needed to clone the "
        f"database (found: {found}). Install the PostgreSQL {server_major} client tools "
        "or set PG_BINDIR to their folder.",
    )


# --------------------------------------------------------------------------------------------
# URLs: the target's URL with another database name; libpq settings without the password


@dataclass(frozen=True)
class ServerAddress:
    """The target's URL split into what libpq needs (holds the password: never log it)."""

    url: str  # postgresql://user:password@host:port/dbname?params

    @property
    def _parts(self):  # type: ignore[no-untyped-def]
        return urlsplit(self.url)

    @property
    def dbname(self) -> str:
        return unquote(self._parts.path.lstrip("/"))

    @property
    def location(self) -> str:
        """Return host:port/dbname, safe to show."""
        parts = self._parts
        return f"{parts.hostname}:{parts.port or 5432}/{self.dbname}"

    def with_database(self, dbname: str) -> str:
        """Return the URL with the database name swapped (contains the password)."""
        parts = self._parts
        return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))

    def libpq_environment(self, dbname: str) -> dict[str, str]:
        """Return PG* variables for pg_dump/pg_restore, so no password is on a command line."""
        parts = self._parts
        environment = {
            "PGHOST": parts.hostname or "localhost",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or ""),
            "PGDATABASE": dbname,
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "schemadesk-branch",
        }
        if parts.password:
            environment["PGPASSWORD"] = unquote(parts.password)
        for item in parts.query.split("&"):
            key, _, value = item.partition("=")
            if key in {"sslmode", "sslrootcert", "sslcert", "sslkey", "options"} and value:
                environment["PG" + key.upper()] = unquote(value)
        return environment


def _libpq_url(url: str) -> str:
    """Return the URL with a scheme libpq accepts (SQLAlchemy's `+psycopg` removed)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


# --------------------------------------------------------------------------------------------
# Branch names and the comment stored with each branch database


def branch_database_name(target_db: str, name: str) -> str:
    """Return the database name of branch `name`, or raise BranchError if the name is bad."""
    if not NAME_PATTERN.match(name or ""):
        raise BranchError(
            f"{name!r} is not a valid branch name: use 1 to 40 lowercase letters, digits "
            "and dashes, starting and ending with a letter or digit."
        )
    dbname = f"{target_db}{BRANCH_MARKER}{name}"
    if len(dbname.encode()) > MAX_IDENTIFIER_BYTES:
        room = MAX_IDENTIFIER_BYTES - len(f"{target_db}{BRANCH_MARKER}".encode())
        raise BranchError(
            f"The branch name {name!r} is too long here: at most {max(room, 0)} characters fit "
            "after the database name."
        )
    return dbname


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BranchNote:
    """What is stored in `COMMENT ON DATABASE` of a branch."""

    name: str
    parent: str
    state: str
    created_at: datetime
    expires_at: datetime | None = None
    schema_only: bool = False
    error: str = ""

    def to_comment(self) -> str:
        return json.dumps(
            {
                "kind": COMMENT_KIND,
                "name": self.name,
                "parent": self.parent,
                "state": self.state,
                "created_at": _iso(self.created_at),
                "expires_at": _iso(self.expires_at),
                "schema_only": self.schema_only,
                "error": self.error,
            },
            sort_keys=True,
        )

    @classmethod
    def from_comment(cls, comment: str | None, fallback_name: str) -> BranchNote | None:
        """Return the note, or None if the comment is not one of ours."""
        try:
            data = json.loads(comment or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != COMMENT_KIND:
            return None
        return cls(
            name=str(data.get("name") or fallback_name),
            parent=str(data.get("parent") or ""),
            state=str(data.get("state") or ""),
            created_at=_parse_time(data.get("created_at")) or datetime.now(UTC),
            expires_at=_parse_time(data.get("expires_at")),
            schema_only=bool(data.get("schema_only")),
            error=str(data.get("error") or ""),
        )


# --------------------------------------------------------------------------------------------
# Catalog SQL


BRANCH_DATABASES_SQL = """
SELECT d.datname AS dbname,
       pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
       pg_catalog.pg_database_size(d.oid) AS size_bytes
FROM pg_catalog.pg_database AS d
WHERE starts_with(d.datname, %(prefix)s)
ORDER BY d.datname
"""

DATABASE_EXISTS_SQL = """
SELECT 1
FROM pg_catalog.pg_database
WHERE datname = %(dbname)s
"""

SERVER_MAJOR_SQL = """
SELECT current_setting('server_version_num')::int / 10000 AS major
"""

# Extensions a non-superuser may copy: trusted ones (PG13+), or all of them for a superuser.
COPYABLE_EXTENSIONS_SQL = """
SELECT e.extname AS name,
       (r.rolsuper OR coalesce(v.trusted, false)) AS copyable
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_roles AS r
  ON r.rolname = current_user
LEFT JOIN pg_catalog.pg_available_extension_versions AS v
  ON v.name = e.extname
 AND v.version = e.extversion
WHERE e.extname <> 'plpgsql'
ORDER BY e.extname
"""


# --------------------------------------------------------------------------------------------
# The provider


class LocalProvider:
    """Branches as cloned databases on the target's own server."""

    name = "local"
    supports_reset = True
    supports_schema_diff = True
    supports_point_in_time = False

    def __init__(
        self,
        target_url: str,
        *,
        clone_timeout_s: float = 900,
        connect_timeout_s: int = 5,
        statement_timeout_ms: int = 60_000,
        lock_timeout_ms: int = 10_000,
    ) -> None:
        self._server = ServerAddress(_libpq_url(target_url))
        self.clone_timeout_s = clone_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms

    @classmethod
    def from_settings(cls) -> LocalProvider:
        """Return a provider for the target database of the console's settings."""
        from django.conf import settings

        from dashboard.target import target_url

        return cls(
            target_url(),
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
        """Yield an autocommit connection to the target database as the target role.

        Not the console's read-only gateway: CREATE/DROP DATABASE and COMMENT ON DATABASE are
        writes that cannot run inside a transaction, and their session timeouts must not leak
        into the pooled read-only engine. Short-lived, with statement and lock timeouts.
        """
        try:
            conn = psycopg.connect(
                self._server.url,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name="schemadesk-branches",
            )
        except psycopg.OperationalError as exc:
            raise BranchError(
                f"The database server ({self._server.location}) is not reachable, so no "
                "branch could be made or read. Check that it is running.",
                f"{type(exc).__name__}: {exc}",
            ) from None
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('lock_timeout', %s, false)",
                (f"{self.statement_timeout_ms}ms", f"{self.lock_timeout_ms}ms"),
            )
            yield conn
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BranchError(
                "The target role may not create or drop databases. Give it CREATEDB "
                "(ALTER ROLE ... CREATEDB) or use BRANCH_PROVIDER=neon.",
                f"{type(exc).__name__}: {exc}",
            ) from None
        finally:
            conn.close()

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
        with self.maintenance_connection() as conn:
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
        with self.maintenance_connection() as conn:
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
        started = time.monotonic()
        say(f"Creating database {dbname}")
        with self.maintenance_connection() as conn:
            # template0: a bare database whatever template1 holds; the dump brings the rest.
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname))
            )
            self._write_note(conn, dbname, note)
            major = conn.execute(SERVER_MAJOR_SQL).fetchone()[0]  # type: ignore[index]
            extensions = conn.execute(COPYABLE_EXTENSIONS_SQL).fetchall()
        try:
            bindir = client_bindir(int(major))
            skipped = [ext for ext, copyable in extensions if not copyable]
            if skipped:
                say("Not copying extension(s) only a superuser may create: " + ", ".join(skipped))
            what = "schema" if note.schema_only else "schema and data"
            say(f"Copying the {what} of {parent} (pg_dump | pg_restore)")
            self._dump_and_restore(
                bindir,
                parent,
                dbname,
                schema_only=note.schema_only,
                extensions=[ext for ext, copyable in extensions if copyable],
            )
        except BranchError as exc:
            say(f"Copy failed; dropping {dbname}")
            self._drop_database(dbname)
            raise exc from None
        with self.maintenance_connection() as conn:
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
    ) -> None:
        """Stream pg_dump of `source` into pg_restore on `destination`; raise on failure."""
        dump = [
            str(bindir / "pg_dump"),
            "--format=custom",
            "--lock-wait-timeout=10000",
            "--no-sync",
        ]
        dump += [f"--exclude-schema={schema}" for schema in EXCLUDED_SCHEMAS]
        # `--extension` limits the extensions dumped without limiting anything else; plpgsql is
        # always present (and never dumped), so the list is never empty.
        dump += [f"--extension={ext}" for ext in ["plpgsql", *extensions]]
        if schema_only:
            dump.append("--schema-only")
        restore = [str(bindir / "pg_restore"), "--exit-on-error", "--no-owner"]
        restore += ["--dbname", destination]
        base_env = {**clean_child_environment(), "LC_ALL": "C"}
        # pg_dump's messages go to a file: a full stderr pipe nobody reads would stall the copy.
        with (
            tempfile.TemporaryFile() as dump_log,
            subprocess.Popen(
                dump,
                stdout=subprocess.PIPE,
                stderr=dump_log,
                env={**base_env, **self._server.libpq_environment(source)},
            ) as dumper,
            subprocess.Popen(
                restore,
                stdin=dumper.stdout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**base_env, **self._server.libpq_environment(destination)},
            ) as restorer,
        ):
            assert dumper.stdout is not None
            dumper.stdout.close()  # the restorer holds the pipe; let pg_dump see SIGPIPE
            try:
                _, restore_err = restorer.communicate(timeout=self.clone_timeout_s)
                dumper.wait(timeout=30)
                dump_log.seek(0)
                dump_err = dump_log.read()
            except subprocess.TimeoutExpired:
                restorer.kill()
                dumper.kill()
                raise BranchError(
                    f"Copying the database took longer than {self.clone_timeout_s:.0f} s and "
                    "was stopped. Try a schema-only branch, or raise "
                    "LOCAL_BRANCH_CLONE_TIMEOUT_S."
                ) from None
        # pg_dump killed by SIGPIPE means pg_restore stopped first: the restore error is the cause.
        dump_failed = dumper.returncode not in (0, -signal.SIGPIPE)
        if dump_failed or restorer.returncode != 0:
            tool, detail = (
                ("pg_dump", _tail(dump_err)) if dump_failed else ("pg_restore", _tail(restore_err))
            )
            raise BranchError(f"{tool} failed while copying the database: {detail}", detail)

    # -- deleting and resetting -------------------------------------------------------------

    def _drop_database(self, dbname: str) -> None:
        with self.maintenance_connection() as conn:
            if conn.info.server_version >= 130000:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )
            else:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (dbname,),
                )
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))

    def delete_branch(self, branch_id: str) -> None:
        """Drop the branch's database (disconnecting its sessions); BranchError if missing."""
        branch = self.get_branch(branch_id)
        if branch.id == self.target_database or not branch.id.startswith(self._prefix):
            raise BranchError("Only branch databases can be deleted here.")
        self._drop_database(branch.id)

    def reset_branch(self, branch_id: str, progress: Progress | None = None) -> BranchInfo:
        """Re-clone the branch from its parent (its own changes are lost) and return it."""
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
        self._drop_database(branch.id)
        self._clone_into_new_database(note.parent, branch.id, note, say)
        return self.get_branch(branch.id)

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
        """Return the branch's URLs: the target's URL with the database name swapped."""
        self._check_branch_id(branch_id)
        url = self._server.with_database(branch_id)
        return ConnectionUrls(pooled=url, direct=url)

    def schema_text(self, dbname: str) -> str:
        """Return the normalised schema-only dump of one database on the target's server."""
        with self.maintenance_connection() as conn:
            major = conn.execute(SERVER_MAJOR_SQL).fetchone()[0]  # type: ignore[index]
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


def _with_state(note: BranchNote, state: str, error: str = "") -> BranchNote:
    return BranchNote(
        name=note.name,
        parent=note.parent,
        state=state,
        created_at=note.created_at,
        expires_at=note.expires_at,
        schema_only=note.schema_only,
        error=error,
    )


# --------------------------------------------------------------------------------------------
# Helpers shared with migration trial runs: schema dumps and their diff


def clean_child_environment() -> dict[str, str]:
    """Return the environment without libpq settings or secrets a child must not inherit."""
    keep = {}
    for key, value in os.environ.items():
        upper = key.upper()
        if upper.startswith("PG") or upper.endswith("_URL"):
            continue
        if any(word in upper for word in ("PASSWORD", "SECRET", "TOKEN", "API_KEY")):
            continue
        keep[key] = value
    return keep


def _tail(output: bytes | str | None, lines: int = 12) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
    return "\n".join(text.strip().splitlines()[-lines:])


def schema_only_dump(
    url: str, bindir: Path, timeout_s: float = 120, exclude_tables: tuple[str, ...] = ()
) -> str:
    """Return `pg_dump --schema-only` of the database at `url`, without noise lines."""
    server = ServerAddress(_libpq_url(url))
    command = [
        str(bindir / "pg_dump"),
        "--schema-only",
        "--no-owner",
        "--no-comments",
        "--lock-wait-timeout=10000",
    ]
    command += [f"--exclude-schema={schema}" for schema in EXCLUDED_SCHEMAS]
    command += [f"--exclude-table={table}" for table in exclude_tables]
    command += ["--extension=plpgsql"]
    try:
        out = subprocess.run(
            command,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env={
                **clean_child_environment(),
                "LC_ALL": "C",
                **server.libpq_environment(server.dbname),
            },
        )
    except subprocess.TimeoutExpired:
        raise BranchError(
            f"Reading the schema of {server.dbname} took longer than {timeout_s:.0f} s."
        ) from None
    if out.returncode != 0:
        detail = _tail(out.stderr)
        raise BranchError(f"pg_dump could not read the schema of {server.dbname}: {detail}")
    return normalised_schema(out.stdout.decode())


_NOISE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config|\\restrict|\\unrestrict)")


def normalised_schema(dump: str) -> str:
    """Return a schema dump without comments, SET lines and blank runs (stable for diffs)."""
    lines = [line for line in dump.splitlines() if line.strip() and not _NOISE.match(line)]
    return "\n".join(lines) + "\n"


def unified_schema_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """Return the unified diff of two normalised schema dumps ('' when they are equal)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
            n=2,
        )
    )
