"""A private PostgreSQL cluster inside a folder: find the binaries, init, start, stop, status.

Used by `make demo` (a persistent cluster under `var/pg`) and by the test run (a throwaway one).
The cluster listens on 127.0.0.1 only, requires a password (scram-sha-256) and preloads
`pg_stat_statements`. As root it runs as the unprivileged `postgres` user, because `initdb`
refuses to run as root.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from core.netports import choose_port

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. Install them:\n"
    "  Debian/Ubuntu: sudo apt-get install postgresql postgresql-contrib\n"
    "  Fedora/RHEL:   sudo dnf install postgresql-server postgresql-contrib\n"
    "  macOS:         brew install postgresql@16\n"
    "or set PG_BINDIR to the folder that holds initdb."
)
UNPRIVILEGED_USER = "postgres"
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "max_connections": "200",
    "logging_collector": "off",
}
# Only for throwaway clusters: durability is worthless there and fsync costs seconds. A test
# suite records tens of thousands of distinct statements (schemas of hundreds of tables, each
# built more than once): room for all of them, so that pg_stat_statements never evicts an entry
# a test has just recorded before the test reads it.
EPHEMERAL_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "pg_stat_statements.max": "100000",
}


class ClusterError(RuntimeError):
    """A cluster operation failed; the message says what to do."""


class PostgresNotFound(ClusterError):
    """No PostgreSQL server binaries were found on this machine."""


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_bindir() -> Path:
    """Return the folder holding initdb/pg_ctl/postgres, or raise PostgresNotFound."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for pattern in SEARCH_PATTERNS:
        found = sorted(glob.glob(pattern), key=_version_key, reverse=True)
        candidates.extend(Path(p) for p in found)
    candidates.extend(Path(p) for p in SEARCH_FOLDERS)
    for bindir in candidates:
        if _has_server(bindir):
            return bindir
    raise PostgresNotFound(INSTALL_HINT)


SEARCH_PATTERNS = [
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
]
SEARCH_FOLDERS = ["/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"]


def _runs_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Cluster:
    """A cluster living in `root` (data/, postgres.log, run/, port and superuser.secret)."""

    root: Path
    ephemeral: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    # -- paths and facts -------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def _password_file(self) -> Path:
        return self.root / "superuser.secret"

    @property
    def _port_file(self) -> Path:
        return self.root / "port"

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    @property
    def port(self) -> int | None:
        try:
            return int(self._port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    @property
    def superuser_password(self) -> str:
        return self._password_file.read_text().strip()

    def superuser_url(self, dbname: str = "postgres") -> str:
        """Return a libpq URL for the superuser (contains a secret: never log it)."""
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/{dbname}"

    # -- running commands ------------------------------------------------------------------
    def _command(self, args: list[str]) -> list[str]:
        if _runs_as_root():
            try:
                pwd.getpwnam(UNPRIVILEGED_USER)
            except KeyError as exc:
                raise ClusterError(
                    "Running as root, PostgreSQL must run as an unprivileged user, but the "
                    f"'{UNPRIVILEGED_USER}' user does not exist. Create it "
                    f"(useradd --system {UNPRIVILEGED_USER}) or run as a normal user."
                ) from exc
            return ["runuser", "-u", UNPRIVILEGED_USER, "--", *args]
        return args

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def _hand_to_server_user(self, path: Path) -> None:
        if _runs_as_root():
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable(self) -> None:
        """Raise ClusterError when the server user cannot reach the cluster's folder."""
        if not _runs_as_root():
            return
        probe = self._run(["test", "-w", str(self.data_dir)], timeout=10)
        if probe.returncode != 0:
            raise ClusterError(
                f"The '{UNPRIVILEGED_USER}' user cannot reach {self.root}: every folder above it "
                "must be searchable by that user (chmod o+x on each), or choose another folder "
                "with PG_CLUSTER_DIR."
            )

    # -- lifecycle -------------------------------------------------------------------------
    def init(self) -> None:
        """Create the data folder with a generated superuser password (no-op if it exists)."""
        if self.initialized:
            return
        bindir = find_bindir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir(exist_ok=True)
            self._hand_to_server_user(folder)
        self.data_dir.chmod(0o700)
        self._check_reachable()
        password = secrets.token_urlsafe(24)
        self._password_file.write_text(password + "\n")
        self._password_file.chmod(0o600)
        # initdb reads the password from a file the server user can read; remove it after.
        pwfile = self.socket_dir / ".initpw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._hand_to_server_user(pwfile)
        try:
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stderr.strip()}")
        settings = dict(SERVER_SETTINGS)
        settings["unix_socket_directories"] = f"'{self.socket_dir}'"
        if self.ephemeral:
            settings.update(EPHEMERAL_SETTINGS)
        conf = "\n".join(f"{key} = {value}" for key, value in settings.items())
        with open(self.data_dir / "postgresql.conf", "a") as handle:
            handle.write("\n# Schemadesk embedded cluster\n" + conf + "\n")

    def running(self) -> bool:
        if not self.initialized:
            return False
        result = self._run([str(find_bindir() / "pg_ctl"), "status", "-D", str(self.data_dir)])
        return result.returncode == 0

    def start(self, port: int | None = None) -> str:
        """Start the cluster (init first if needed); return a sentence saying what happened."""
        self.init()
        if self.running():
            return f"PostgreSQL is already running on 127.0.0.1:{self.port}."
        chosen, note = choose_port(port or self.port or 5433)
        note = f" ({note})" if note else ""
        self._port_file.write_text(f"{chosen}\n")
        self.log_file.touch()
        self._hand_to_server_user(self.log_file)
        result = self._run(
            [
                str(find_bindir() / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {chosen}",
            ]
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace").splitlines()[-15:]
            raise ClusterError("PostgreSQL did not start:\n" + "\n".join(tail))
        return f"PostgreSQL started on 127.0.0.1:{chosen}{note}."

    def stop(self) -> str:
        if not self.running():
            return "PostgreSQL is not running."
        result = self._run(
            [str(find_bindir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"]
        )
        if result.returncode != 0:
            raise ClusterError(f"pg_ctl stop failed:\n{result.stderr.strip()}")
        return "PostgreSQL stopped."

    def destroy(self) -> None:
        """Stop the cluster and remove its folder (throwaway clusters only)."""
        if self.initialized:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> dict[str, object]:
        info: dict[str, object] = {"root": str(self.root), "initialized": self.initialized}
        try:
            info["bindir"] = str(find_bindir())
        except PostgresNotFound:
            info["bindir"] = None
        info["running"] = self.running() if info["bindir"] else False
        info["port"] = self.port
        return info


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    """Return True once something accepts connections on 127.0.0.1:port."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Manage the embedded PostgreSQL cluster.")
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    parser.add_argument("--root", default=os.environ.get("PG_CLUSTER_DIR", "var/pg"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PG_PORT", "5433")))
    args = parser.parse_args(argv)
    cluster = Cluster(Path(args.root))
    try:
        if args.action == "start":
            print(cluster.start(args.port))
        elif args.action == "stop":
            print(cluster.stop())
        elif args.action == "url":
            print(cluster.superuser_url())
        else:
            for key, value in cluster.status().items():
                print(f"{key}: {value}")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
