"""The schema-scale benchmark's data set: built once in var/bench-pg, then reused.

A target of 1,000 tables (benchmarks/scale_target.py), an Alembic project of 500 revisions
(benchmarks/scale_alembic.py), 1,000,000 chained audit events (benchmarks/scale_audit.py) and the
facts the measurement needs (the pages' tables, subjects, operators), kept in FACTS_FILE.
benchmarks/schema_scale.py measures the console on it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DIR = ROOT / "var" / "bench-pg"
ALEMBIC_DIR = ROOT / "var" / "scale-alembic"
FACTS_FILE = CLUSTER_DIR / "schema_scale_facts.json"
DATABASE = "schemadesk_scale"
BUILD_VERSION = "schema-scale-1"
AUDIT_EVENTS = 1_000_000
BRANCHES = 200
VERSION_SCHEMA = "scale_meta"
SECRET_KEY = "schema-scale-benchmark-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105


# -- building ----------------------------------------------------------------------------------
def console_environment(layout_env: dict[str, str]) -> dict[str, str]:
    """Return the settings the measured console runs with (children inherit them)."""
    return {
        **layout_env,
        "SECRET_KEY": SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DOTENV_FILE": "",
        "DEBUG": "false",
        "STATIC_MANIFEST": "false",
        "SECURE_COOKIES": "false",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "USERS_TABLE": "",  # detected, as a fresh install would
        "ALEMBIC_CONFIG": str(ALEMBIC_DIR / "alembic.ini"),
        "ALEMBIC_VERSION_SCHEMA": VERSION_SCHEMA,
        "ALEMBIC_VERSION_TABLE": "alembic_version",
        "BRANCH_PROVIDER": "neon",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",  # Playwright's loop runs in the measuring thread
    }


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(rebuild: bool) -> dict[str, Any]:
    """Start the cluster, build what is missing, set up the environment; return the facts."""
    from core.embedded import prepare
    from core.pgcluster import Cluster

    cluster = Cluster(CLUSTER_DIR)
    say(cluster.start())
    (ROOT / "staticfiles").mkdir(exist_ok=True)  # WhiteNoise warns at start-up without it
    facts = json.loads(FACTS_FILE.read_text()) if FACTS_FILE.is_file() else {}
    if rebuild or facts.get("version") != BUILD_VERSION or not facts.get("target"):
        # Nothing half-built is kept: the database is made again from scratch.
        with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        facts = {"version": BUILD_VERSION}
    layout = prepare(cluster, DATABASE)
    os.environ.update(console_environment(layout.environment()))
    owner = os.environ["APP_DIRECT_URL"]  # the tables' owner (the console reads as its reader)
    if not facts.get("target"):
        _build_target(owner)
        facts["target"] = True
        FACTS_FILE.write_text(json.dumps(facts))
    tables = _table_names(owner)
    from benchmarks import scale_alembic

    scale_alembic.write_project(ALEMBIC_DIR, tables["unrelated"])
    _stamp(owner, scale_alembic.stamped_revision())

    import django

    django.setup()
    from benchmarks.console_setup import migrate_console

    migrate_console(cluster, DATABASE)
    operators = _operators()
    if not facts.get("audit"):
        from benchmarks.scale_audit import append_events

        say(f"appending {AUDIT_EVENTS:,} chained audit events (once; a minute or two)")
        subjects = _subjects(owner)
        seconds = append_events(
            cluster.superuser_url(DATABASE),
            AUDIT_EVENTS,
            operators,
            subjects,
            tables["owned"],
            hot_subject=subjects[0],
        )
        say(f"  appended in {seconds:.0f} s")
        facts["audit"] = True
        FACTS_FILE.write_text(json.dumps(facts))
    facts.update(_page_facts(owner, tables, cluster.superuser_url(DATABASE)))
    FACTS_FILE.write_text(json.dumps(facts))
    return facts


def _build_target(owner: str) -> None:
    from alembic import command
    from alembic.config import Config

    from benchmarks import scale_target
    from core import datagen

    say("building the 1,000-table target (once; a few minutes)")
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")
    with psycopg.connect(owner) as conn:
        datagen.generate(
            conn,
            datagen.Counts(
                users=scale_target.USERS, tasks=20_000, conversations=2_000, messages=20_000
            ),
            seed=15,
            anchor=date(2025, 6, 30),
        )
    started = time.perf_counter()
    scale_target.build_target(owner, progress=say)
    say(f"  built in {time.perf_counter() - started:.0f} s")


def _stamp(owner: str, revision: str) -> None:
    """Put the scale project's version table (own schema) at `revision`."""
    from core.embedded import READER_ROLE

    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_SCHEMA}.alembic_version "
            "(version_num varchar(32) PRIMARY KEY)"
        )
        conn.execute(f"DELETE FROM {VERSION_SCHEMA}.alembic_version")
        conn.execute(f"INSERT INTO {VERSION_SCHEMA}.alembic_version VALUES (%s)", (revision,))
        # The console reads the version table as its target reader.
        conn.execute(f"GRANT USAGE ON SCHEMA {VERSION_SCHEMA} TO {READER_ROLE}")
        conn.execute(f"GRANT SELECT ON {VERSION_SCHEMA}.alembic_version TO {READER_ROLE}")


def _table_names(owner: str) -> dict[str, list[str]]:
    from benchmarks.scale_target import table_specs

    specs = table_specs()
    return {
        kind: [spec.name for spec in specs if spec.kind == kind]
        for kind in ("owned", "lookup", "unrelated")
    }


def _subjects(owner: str) -> list[str]:
    with psycopg.connect(owner) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM users ORDER BY id")]


def _operators() -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from benchmarks.scale_audit import OPERATORS

    ids = {}
    for name in OPERATORS:
        user, _ = get_user_model().objects.get_or_create(username=name)
        role = "admin" if name == "bench-admin" else "support"
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        ids[name] = user.pk
    return ids


def _page_facts(owner: str, tables: dict[str, list[str]], superuser: str) -> dict[str, Any]:
    from benchmarks.scale_alembic import plan
    from benchmarks.scale_target import table_specs

    specs = {spec.name: spec for spec in table_specs()}
    deepest = next(s.name for s in specs.values() if s.kind == "owned" and s.depth == 4)
    middle = next(s.name for s in specs.values() if s.kind == "owned" and s.depth == 2)
    revisions = plan()
    merge = next(r.revision for r in revisions[len(revisions) // 2 :] if isinstance(r.down, tuple))
    subject = _subjects(owner)[0]
    with psycopg.connect(superuser) as conn:
        # The event a link of page 1,000 (newest first, 50 a page) continues after.
        deep = conn.execute(
            "SELECT id FROM django.audit_auditevent ORDER BY at DESC, id DESC OFFSET %s LIMIT 1",
            (999 * 50 - 1,),
        ).fetchone()
    return {
        "subject": subject,
        "table_page": middle,
        "data_table": deepest,
        "card_table": deepest,
        "revision": merge,
        "audit_after": deep[0] if deep else 1,
    }
