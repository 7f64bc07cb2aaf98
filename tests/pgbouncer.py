"""A throwaway PgBouncer in transaction mode in front of the test cluster, for tests.

    with PgBouncer(cluster_port, {"todo_owner": password}) as bouncer:
        url = bouncer.url("todo_owner", password, "schemadesk_test")

One server connection per database and role (default_pool_size = 1, unless `pool_size` says
otherwise), so every client of a role is served by the same server connection: whatever a
client leaves on it (a session setting), the next client sees. `extra_settings` adds lines to
the [pgbouncer] section. Runs as the `postgres` user when the tests run as root
(PgBouncer refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from core.netports import free_port
from tests.unavailable import unavailable

PGBOUNCER_PATHS = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
# What PgBouncer itself sets on a server connection to match each client.
POOLER_TRACKED = {
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "standard_conforming_strings",
}


def leftover_settings(url: str) -> dict[str, str]:
    """Settings (and a role) a previous client left on the server connection a new one gets."""
    with psycopg.connect(url, autocommit=True, application_name="observer") as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE source = 'session'"
        ).fetchall()
        current, session = conn.execute("SELECT current_user, session_user").fetchone()
    left = {name: setting for name, setting in rows if name not in POOLER_TRACKED}
    if current != session:
        left["role"] = current
    return left


def pgbouncer_binary() -> str:
    """Return PgBouncer's path; skip the test where it is missing (fail under CI)."""
    found = next((p for p in PGBOUNCER_PATHS if os.access(p, os.X_OK)), None)
    found = found or shutil.which("pgbouncer")
    if found is None:
        unavailable("pgbouncer is not installed (apt-get install pgbouncer).")
    return found


class PgBouncer:
    """PgBouncer 1.18+ on 127.0.0.1, transaction pooling, for the given roles' passwords."""

    def __init__(
        self,
        server_port: int,
        passwords: dict[str, str],
        pool_size: int = 1,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        self.server_port = server_port
        self.passwords = passwords
        self.pool_size = pool_size
        self.extra_settings = extra_settings or {}
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="schemadesk-pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, role: str, password: str, dbname: str) -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{dbname}"

    def __enter__(self) -> PgBouncer:
        binary = pgbouncer_binary()
        users = "".join(f'"{role}" "{password}"\n' for role, password in self.passwords.items())
        (self.folder / "users.txt").write_text(users)
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"  # clients are the tests; the server login uses users.txt
            f"auth_file = {self.folder / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 100\n"
            "server_reset_query =\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
            + "".join(f"{key} = {value}\n" for key, value in self.extra_settings.items())
        )
        command = [binary, str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.__exit__()
        log = (self.folder / "pgbouncer.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pgbouncer did not start: {log}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
