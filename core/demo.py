"""`make demo`'s database side: a private cluster, the production layout, migrations, demo data.

Re-running keeps everything: the cluster, the passwords (kept in `.env`, which is written once,
mode 600, never committed) and the data. `migrate` runs Django's migrations the way production
does: with the audit owner lent to the console's role for that run only (core/audit_owner.py).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from core.audit_owner import AuditOwnerError, audit_owner_lent
from core.embedded import CONSOLE_ROLE, ROLE_VARIABLES, Layout, known_passwords, prepare
from core.envfile import read_env_file, write_env_file
from core.pgcluster import Cluster, ClusterError

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATABASE = "schemadesk"
ENV_FILE = ROOT / ".env"


def write_demo_env_file(path: Path, layout: Layout, existing: dict[str, str]) -> None:
    """Write .env with the demo's URLs and a secret key; keep other values already there."""
    values = dict(existing)
    values.update(layout.environment())
    values.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    values.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    values.setdefault("SECURE_COOKIES", "false")  # the demo is served over plain http
    values.setdefault("BRANCH_PROVIDER", "local")
    # The demo's own project, named explicitly (the console's defaults assume none).
    values.setdefault("SCHEMA_MODELS", "core.models")
    values.setdefault("ALEMBIC_URL_ENV", "APP_DIRECT_URL")
    # The demo shows the time machine whole: row changes on (as todo_app, the runtime role)
    # and a local snapshot every hour, kept two days.
    values.setdefault("DATA_WRITES_ENABLED", "true")
    values.setdefault("LOCAL_SNAPSHOT_CRON", "0 * * * *")
    header = "Written by `make demo` for the local demo cluster. Secrets: never commit."
    write_env_file(path, values, header)


def alembic_upgrade(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def seed(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "core.datagen", "--preset", "demo"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def setup(cluster_dir: Path, port: int) -> None:
    """Start the cluster, prepare the database, write .env, migrate and seed."""
    cluster = Cluster(cluster_dir)
    print(cluster.start(port))
    existing = read_env_file(ENV_FILE)
    layout = prepare(cluster, DEMO_DATABASE, known_passwords(existing))
    write_demo_env_file(ENV_FILE, layout, existing)
    env = layout.environment()
    print("Applying Alembic migrations to schema public …")
    alembic_upgrade(env)
    print("Seeding demo data (skipped when already there) …")
    seed(env)


def migrate_console(cluster_dir: Path) -> None:
    """Apply Django's migrations as the console's role, with the audit owner lent for the run."""
    cluster = Cluster(cluster_dir)
    with audit_owner_lent(cluster.superuser_url(DEMO_DATABASE), CONSOLE_ROLE):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            check=True,
        )


def port_named(values: dict[str, str]) -> int | None:
    """Return the local port DATABASE_URL names in a .env, if it names one on this machine."""
    url = values.get("DATABASE_URL", "")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    return port if parts.hostname in ("127.0.0.1", "localhost") else None


def start(cluster_dir: Path, port: int, env_file: Path = ENV_FILE) -> None:
    """Start the cluster (`make db-start`) and keep `.env` naming the port it really listens on.

    The port `.env` names is asked for first; when it is busy the cluster starts on another
    one and `.env` is rewritten to match. A `.env` that is not the demo's is never rewritten:
    the start is refused with what to do instead.
    """
    cluster = Cluster(cluster_dir)
    existing = read_env_file(env_file)
    named = port_named(existing)
    print(cluster.start(named or port))
    if named is None or cluster.port == named:
        return
    passwords = known_passwords(existing)
    if set(passwords) != set(ROLE_VARIABLES):
        cluster.stop()
        raise ClusterError(
            f"{env_file.name} names port {named}, which is busy, and was not written by "
            f"`make demo` (or by an older one, without every role of today's layout), so it was "
            f"left alone and the cluster was stopped again: free port {named} and run `make "
            f"demo` again, or change the URLs in {env_file.name}."
        )
    write_demo_env_file(env_file, Layout(DEMO_DATABASE, cluster.port or 0, passwords), existing)
    print(f"{env_file.name} now names port {cluster.port} (port {named} was busy).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare the demo database.")
    parser.add_argument("action", choices=["setup", "migrate", "start"])
    parser.add_argument("--root", default=os.environ.get("PG_CLUSTER_DIR", str(ROOT / "var/pg")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PG_PORT", "5433")))
    args = parser.parse_args(argv)
    try:
        if args.action == "migrate":
            migrate_console(Path(args.root))
        elif args.action == "start":
            start(Path(args.root), args.port)
        else:
            setup(Path(args.root), args.port)
    except (ClusterError, AuditOwnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(exc.cmd[1:4])} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
