"""pg_dump and pg_restore runs: cloning a database, schema-only dumps (normalised) and diffs."""

from __future__ import annotations

import difflib
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

from core.branch_roles import ROLE_SCHEMA
from dashboard.branches.provider import BranchError
from dashboard.branches.server_address import ServerAddress, _libpq_url

# The console's own tables and the branch roles' functions (core/branch_roles.py) never go to
# a branch.
EXCLUDED_SCHEMAS = ("django", ROLE_SCHEMA)


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


def dump_and_restore(
    server: ServerAddress,
    bindir: Path,
    source: str,
    destination: str,
    *,
    schema_only: bool,
    extensions: list[str],
    timeout_s: float,
    role: str | None = None,
) -> None:
    """Stream pg_dump of `source` into pg_restore on `destination`; raise on failure.

    With `role`, pg_restore creates every object as that role (`--role`), so the branch's own
    role owns them; grants are not copied (`--no-privileges`: only that role may connect to a
    branch, and default privileges FOR another role could not be set as it).
    """
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
    if role:
        restore += [f"--role={role}", "--no-privileges"]
    restore += ["--dbname", destination]
    base_env = {**clean_child_environment(), "LC_ALL": "C"}
    # pg_dump's messages go to a file: a full stderr pipe nobody reads would stall the copy.
    with (
        tempfile.TemporaryFile() as dump_log,
        subprocess.Popen(
            dump,
            stdout=subprocess.PIPE,
            stderr=dump_log,
            env={**base_env, **server.libpq_environment(source)},
        ) as dumper,
        subprocess.Popen(
            restore,
            stdin=dumper.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**base_env, **server.libpq_environment(destination)},
        ) as restorer,
    ):
        assert dumper.stdout is not None
        dumper.stdout.close()  # the restorer holds the pipe; let pg_dump see SIGPIPE
        try:
            _, restore_err = restorer.communicate(timeout=timeout_s)
            dumper.wait(timeout=30)
            dump_log.seek(0)
            dump_err = dump_log.read()
        except subprocess.TimeoutExpired:
            restorer.kill()
            dumper.kill()
            raise BranchError(
                f"Copying the database took longer than {timeout_s:.0f} s and "
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


def schema_only_dump(
    url: str, bindir: Path, timeout_s: float = 120, exclude_tables: tuple[str, ...] = ()
) -> str:
    """Return `pg_dump --schema-only` of the database at `url`, without noise lines.

    Grants are left out: a branch's objects belong to its own role and carry no grants, so
    comparing them would show every grant of the parent as a difference.
    """
    server = ServerAddress(_libpq_url(url))
    command = [
        str(bindir / "pg_dump"),
        "--schema-only",
        "--no-owner",
        "--no-comments",
        "--no-privileges",
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
    """Return a schema dump without comments, SET lines and blank runs (stable for diffs).

    CHECK constraints are written in a normal form (normalised_check), since the same
    constraint reads differently once it went through pg_dump and pg_restore.
    """
    lines = [
        _normalised_check_line(line)
        for line in dump.splitlines()
        if line.strip() and not _NOISE.match(line)
    ]
    return "\n".join(lines) + "\n"


# A CHECK constraint on a line of its own, as pg_dump writes it inside CREATE TABLE or in
# ALTER TABLE ... ADD CONSTRAINT.
_CHECK_LINE = re.compile(
    r"^(?P<head>\s*(?:ADD )?CONSTRAINT \S+ CHECK )(?P<expr>\(.*\))(?P<tail>(?: NOT VALID)?[,;]?)$"
)
# Casts between text types carry no meaning in a comparison with literals; pg_restore
# re-words `col::text = ANY ((ARRAY['a'::varchar, ...])::text[])` as
# `col::text = ANY (ARRAY[('a'::varchar)::text, ...])`.
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name"})


class _TextCastsStripped(Visitor):
    def visit_TypeCast(self, ancestors: Any, node: ast.TypeCast) -> Any:
        names = [
            getattr(n, "sval", "") for n in (node.typeName.names or () if node.typeName else ())
        ]
        return node.arg if names and names[-1] in _TEXT_TYPES else None


def normalised_check(expression: str) -> str:
    """Return a CHECK expression deparsed by pglast without casts between text types.

    An expression pglast cannot parse is returned unchanged.
    """
    try:
        statement = parse_sql(f"SELECT {expression}")[0].stmt
    except ParseError:
        return expression
    if not isinstance(statement, ast.SelectStmt) or not statement.targetList:
        return expression
    previous = ""
    for _ in range(8):  # a replaced cast may hide another inside it: repeat until stable
        _TextCastsStripped()(statement)
        text = RawStream()(statement.targetList[0].val)
        if text == previous:
            break
        previous = text
    return f"({previous})"


def _normalised_check_line(line: str) -> str:
    found = _CHECK_LINE.match(line)
    if found is None:
        return line
    return found["head"] + normalised_check(found["expr"]) + found["tail"]


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
