"""Run exactly one revision step of an Alembic project, in a subprocess of the console.

Usage: python -P alembic_runner.py '<json spec>' (-P: this folder must not shadow the
project's modules). No Django here: the console starts this script
with a clean environment, the project's folder as working directory, and the database URL in
the variable the project's env.py reads (named in the spec, never passed on the command line).

The spec: {"config": ini path, "script_location": absolute folder, "action": "upgrade" |
"downgrade", "revision": id, "sql": bool, "url_env": name, "x": {name: value}}.

One step, whatever else is pending: an upgrade of revision R runs R's upgrade() only (its
parents must be applied), a downgrade runs R's downgrade() only. With "sql", the step's SQL is
generated in Alembic's offline mode (as `alembic upgrade <parents>:<R> --sql` does) and is the
only thing written to stdout; everything env.py prints or logs goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys


def _config(spec: dict, sql_buffer: io.StringIO | None):
    from alembic.config import Config

    config = Config(spec["config"], output_buffer=sql_buffer)
    config.set_main_option("script_location", spec["script_location"].replace("%", "%%"))
    url = os.environ.get(spec["url_env"], "")
    if url:
        # For env.py files that read sqlalchemy.url (Alembic's default template): never let a
        # URL written in the ini file win over the database this step is meant for.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # What `-x name=value` would give: context.get_x_argument() reads cmd_opts.x.
    config.cmd_opts = argparse.Namespace(x=[f"{k}={v}" for k, v in spec.get("x", {}).items()])
    return config


def run_step(spec: dict) -> str:
    """Run one step and return the generated SQL (offline) or ''."""
    from alembic import util
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationStep
    from alembic.script import ScriptDirectory

    offline = bool(spec.get("sql"))
    sql_buffer = io.StringIO() if offline else None
    config = _config(spec, sql_buffer)
    script = ScriptDirectory.from_config(config)
    target = script.get_revision(spec["revision"])
    if target is None:
        raise SystemExit(f"unknown revision {spec['revision']!r}")
    upgrading = spec["action"] == "upgrade"
    parents = list(util.to_tuple(target.down_revision, default=()))
    if upgrading:
        step = MigrationStep.upgrade_from_script(script.revision_map, target)
        starting, destination = (parents or None), target.revision
    else:
        step = MigrationStep.downgrade_from_script(script.revision_map, target)
        starting, destination = [target.revision], (",".join(parents) or "base")

    def steps(heads, context):
        return [step]

    with EnvironmentContext(
        config,
        script,
        fn=steps,
        as_sql=offline,
        starting_rev=starting if offline else None,
        destination_rev=destination,
    ):
        if offline:
            with contextlib.redirect_stdout(sys.stderr):
                script.run_env()
        else:
            script.run_env()
    return sql_buffer.getvalue() if sql_buffer is not None else ""


def _log_like_the_cli() -> None:
    """Show Alembic's INFO lines ("Running upgrade a -> b") as the CLI does by default.

    An env.py that configures logging itself (fileConfig) replaces this.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)-5.5s [%(name)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0])
    _log_like_the_cli()
    sql = run_step(spec)
    if sql:
        sys.stdout.write(sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
