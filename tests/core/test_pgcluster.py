"""The embedded cluster helper: finds binaries, says what to install, avoids busy ports."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import psycopg
import pytest

from core import pgcluster
from core.netports import choose_port
from core.pgcluster import Cluster, PostgresNotFound


def test_missing_postgres_says_exactly_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PG_BINDIR", raising=False)
    monkeypatch.setattr(pgcluster, "SEARCH_PATTERNS", [str(tmp_path / "none-*/bin")])
    monkeypatch.setattr(pgcluster, "SEARCH_FOLDERS", [str(tmp_path)])
    with pytest.raises(PostgresNotFound) as caught:
        pgcluster.find_bindir()
    message = str(caught.value)
    assert "apt-get install postgresql postgresql-contrib" in message
    assert "brew install" in message and "PG_BINDIR" in message


def test_pg_bindir_is_honoured(monkeypatch):
    real = pgcluster.find_bindir()
    monkeypatch.setenv("PG_BINDIR", str(real))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert pgcluster.find_bindir() == real


def test_busy_port_is_reported_and_another_chosen():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port, note = choose_port(taken)
        assert port != taken
        assert f"port {taken} is busy" in note
        with pytest.raises(OSError, match="busy"):
            choose_port(taken, strict=True)


@pytest.mark.slow
def test_cluster_starts_on_another_port_when_wanted_is_busy_and_preloads_pg_stat_statements():
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter 0700 dirs.
    parent = Path(tempfile.mkdtemp(prefix="schemadesk-cluster-test-"))
    parent.chmod(0o755)
    root = parent / "pg"
    cluster = Cluster(root, ephemeral=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        try:
            message = cluster.start(taken)
            assert f"port {taken} is busy" in message
            assert cluster.port != taken
            assert cluster.status()["running"] is True
            with psycopg.connect(cluster.superuser_url()) as conn:
                preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
                listen = conn.execute("SHOW listen_addresses").fetchone()[0]
            assert "pg_stat_statements" in preload
            assert listen == "127.0.0.1"
            assert "already running" in cluster.start()
        finally:
            cluster.destroy()
            parent.rmdir()
    assert not root.exists()


def test_cluster_requires_a_password():
    from tests.pgplugin import running_cluster

    cluster = running_cluster()
    wrong = cluster.superuser_url().replace(cluster.superuser_password, "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_unreachable_folder_is_explained(tmp_path):
    if not pgcluster._runs_as_root():
        pytest.skip("only root hands the cluster to another user")
    tmp_path.chmod(0o700)
    with pytest.raises(pgcluster.ClusterError, match="cannot reach"):
        Cluster(tmp_path / "pg", ephemeral=True).init()
