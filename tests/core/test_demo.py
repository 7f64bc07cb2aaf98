"""`make demo`'s `.env`: it names the demo's own project and turns row changes on, as the
application's runtime role; `make db-start`: the cluster's port and the port `.env` names never
disagree."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlmodel import SQLModel

from core import demo
from core.embedded import APP_ROLE, Layout
from core.pgcluster import Cluster, ClusterError

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster_dir():
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter 0700 dirs.
    parent = Path(tempfile.mkdtemp(prefix="schemadesk-demo-test-"))
    parent.chmod(0o755)
    yield parent / "pg"
    Cluster(parent / "pg").destroy()
    parent.rmdir()


@pytest.fixture
def busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def _demo_env_file(path: Path, port: int) -> None:
    passwords = {role: f"pw-{role}" for role in demo.ROLE_VARIABLES}
    demo.write_demo_env_file(path, Layout(demo.DEMO_DATABASE, port, passwords), {"KEEP_ME": "yes"})


def test_the_demo_names_its_own_models_and_url_variable(tmp_path):
    """The console assumes no project (SCHEMA_MODELS unset: no drift card), so the demo names
    its own: the models of its four tables and the variable its env.py reads."""
    env_file = tmp_path / ".env"
    _demo_env_file(env_file, 5433)
    values = demo.read_env_file(env_file)
    assert values["SCHEMA_MODELS"] == "core.models"
    assert values["ALEMBIC_URL_ENV"] == "APP_DIRECT_URL"
    assert values["APP_DIRECT_URL"].startswith("postgresql")  # the variable it names is written
    module = importlib.import_module(values["SCHEMA_MODELS"])
    tables = {
        model.__tablename__
        for model in vars(module).values()
        if isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__table__")
    }
    assert tables == {"users", "tasks", "conversations", "messages"}

    # Re-running keeps what an operator put there instead.
    passwords = {role: f"pw-{role}" for role in demo.ROLE_VARIABLES}
    mine = {"SCHEMA_MODELS": "myapp.models", "ALEMBIC_URL_ENV": "MY_URL"}
    demo.write_demo_env_file(env_file, Layout(demo.DEMO_DATABASE, 5433, passwords), mine)
    values = demo.read_env_file(env_file)
    assert (values["SCHEMA_MODELS"], values["ALEMBIC_URL_ENV"]) == ("myapp.models", "MY_URL")


# What the console makes of a .env alone (no other variable of this test run reaches it).
CONSOLE_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from dashboard.write_settings import writes_problem
print(json.dumps({"enabled": settings.DATA_WRITES_ENABLED, "problem": writes_problem()}))
"""


def console_reading(env_file: Path) -> dict:
    env = {
        "PATH": os.environ["PATH"],
        "DOTENV_FILE": str(env_file),
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", CONSOLE_SETTINGS],
        cwd=demo.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_the_demo_turns_row_changes_on_as_the_runtime_role(tmp_path):
    env_file = tmp_path / ".env"
    _demo_env_file(env_file, 5433)
    values = demo.read_env_file(env_file)
    assert values["DATA_WRITES_ENABLED"] == "true"
    assert urlsplit(values["TARGET_WRITE_DATABASE_URL"]).username == APP_ROLE  # RLS holds it
    assert console_reading(env_file) == {"enabled": True, "problem": ""}


def test_an_operator_who_turned_row_changes_off_keeps_them_off(tmp_path):
    env_file = tmp_path / ".env"
    passwords = {role: f"pw-{role}" for role in demo.ROLE_VARIABLES}
    layout = Layout(demo.DEMO_DATABASE, 5433, passwords)
    demo.write_demo_env_file(env_file, layout, {"DATA_WRITES_ENABLED": "false"})
    assert demo.read_env_file(env_file)["DATA_WRITES_ENABLED"] == "false"
    reading = console_reading(env_file)
    assert reading["enabled"] is False and "DATA_WRITES_ENABLED" in reading["problem"]


def test_a_busy_port_moves_the_cluster_and_env_follows(cluster_dir, busy_port, tmp_path, capsys):
    env_file = tmp_path / ".env"
    _demo_env_file(env_file, busy_port)
    demo.start(cluster_dir, 5433, env_file=env_file)
    port = Cluster(cluster_dir).port
    assert port != busy_port
    values = demo.read_env_file(env_file)
    for variable in ("DATABASE_URL", "TARGET_DATABASE_URL", "APP_DATABASE_URL", "APP_DIRECT_URL"):
        assert urlsplit(values[variable]).port == port, variable
    assert values["KEEP_ME"] == "yes"
    assert demo.known_passwords(values) == {role: f"pw-{role}" for role in demo.ROLE_VARIABLES}
    assert f".env now names port {port} (port {busy_port} was busy)" in capsys.readouterr().out


def test_an_env_not_written_by_the_demo_is_left_alone_and_the_start_refused(
    cluster_dir, busy_port, tmp_path
):
    env_file = tmp_path / ".env"
    own = f"DATABASE_URL=postgresql://someone:pw@127.0.0.1:{busy_port}/mine\n"
    env_file.write_text(own)
    with pytest.raises(ClusterError, match=f"names port {busy_port}, which is busy"):
        demo.start(cluster_dir, 5433, env_file=env_file)
    assert env_file.read_text() == own
    assert not Cluster(cluster_dir).running()
