"""Every setting is documented: each environment variable the code reads (found by parsing the
code, tests/environment_reads.py) is in `.env.example` and in a table of the README's
configuration section; nothing documented there is a variable nobody reads."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.environment_reads import ROOT, environment_reads

NAME = re.compile(r"`([A-Z][A-Z0-9_]*[A-Z0-9])`")
# Reads whose variable is not a setting of the console: the name is data, said here with why.
DYNAMIC_READS = {
    "dashboard/history/alembic_runner.py": (
        "spec['url_env']",
        "the managed project's own URL variable, named by ALEMBIC_URL_ENV",
    ),
}
# Files besides the Python code that read documented variables (the demo's Makefile, compose).
OTHER_READERS = ("Makefile", "compose.yaml", "Dockerfile")


def env_example_names(text: str) -> set[str]:
    """Return the variables `.env.example` lists (`NAME=…`, or commented out: `# NAME=…`)."""
    return set(re.findall(r"(?m)^#?\s*([A-Z][A-Z0-9_]*)=", text))


def configuration_section(readme: str) -> str:
    """Return the README's `## Configuration` section, up to the next `## ` heading."""
    start = readme.index("\n## Configuration\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def documented_names(readme: str) -> set[str]:
    """Return the variables named in the first cell of a table row of the configuration."""
    names: set[str] = set()
    for line in configuration_section(readme).splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and not set(cells[1].strip()) <= {"-"}:
            names |= set(NAME.findall(cells[1]))
    return names


@pytest.fixture(scope="module")
def reads():
    return environment_reads()


def test_the_parse_finds_the_reads_of_every_kind(reads):
    """The reads come from the code: django-environ in settings, os.environ in core, a name
    passed to a helper, argparse defaults, a loop over a dict of names."""
    expected = {
        "LOG_LEVEL": "dashboard/settings.py",  # env.str(...) inside the LOGGING dict
        "DATABASE_URL": "dashboard/settings.py",  # database_settings("DATABASE_URL") → env.str(var)
        "DATABASE_CONN_MAX_AGE": "dashboard/config.py",
        "APP_APPLICATION_NAME": "core/config.py",  # environ = os.environ if … else environ
        "APP_POOL_SIZE": "core/config.py",  # _int(environ, "APP_POOL_SIZE", …)
        "NEON_API_KEY": "dashboard/branches/neon_provider.py",
        "OPERATOR_PASSWORD": "dashboard/accounts/management/commands/operator_add.py",
        "AUDIT_ADMIN_DATABASE_URL": "core/audit_owner.py",  # args.admin_url_env's default
        "TARGET_READONLY_DATABASE_URL": "core/embedded.py",  # ROLE_VARIABLES.items()
        "MIGRATION_STATEMENT_TIMEOUT": "migrations/env.py",
        "WEB_CONCURRENCY": "gunicorn.conf.py",
    }
    for name, path in expected.items():
        assert any(where.startswith(path + ":") for where in reads.names.get(name, ())), name
    assert len(reads.names) > 120
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in reads.names)


def test_every_variable_the_code_reads_is_in_env_example(reads):
    listed = env_example_names((ROOT / ".env.example").read_text())
    missing = {name: sorted(reads.names[name])[0] for name in sorted(set(reads.names) - listed)}
    assert not missing, f"read by the code but not in .env.example (name: where): {missing}"


def test_every_variable_the_code_reads_is_in_the_readme_configuration(reads):
    documented = documented_names((ROOT / "README.md").read_text())
    missing = {name: sorted(reads.names[name])[0] for name in sorted(set(reads.names) - documented)}
    assert not missing, (
        "read by the code but in no table of the README's Configuration section "
        f"(add a row: variable, default, meaning) (name: where): {missing}"
    )


def test_nothing_documented_is_a_variable_nobody_reads(reads):
    readme = documented_names((ROOT / "README.md").read_text())
    example = env_example_names((ROOT / ".env.example").read_text())
    others = "\n".join((ROOT / name).read_text() for name in OTHER_READERS)
    unread = {
        name
        for name in (readme | example) - set(reads.names)
        if not re.search(rf"\b{name}\b", others)
    }
    assert not unread, f"documented, but neither the code nor {OTHER_READERS} reads: {unread}"
    assert readme - example == set(), "in the README's configuration but not in .env.example"


def test_every_read_whose_name_is_not_written_out_is_explained(reads):
    unexplained = {
        where: key
        for where, key in reads.unresolved.items()
        if DYNAMIC_READS.get(where.split(":")[0], ("",))[0] != key
    }
    assert not unexplained, (
        "reads of the environment whose variable cannot be told from the code: name it "
        f"literally, or explain it in DYNAMIC_READS: {unexplained}"
    )
    stale = set(DYNAMIC_READS) - {where.split(":")[0] for where in reads.unresolved}
    assert not stale, f"DYNAMIC_READS names reads that are gone: {stale}"


# -- the parse itself, on code written for it ----------------------------------------------------
SAMPLE = {
    "pkg/__init__.py": "",
    "pkg/config.py": """
        import os
        import argparse
        import environ

        env = environ.Env()
        NAMES = {"a": "FROM_DICT_A", "b": "FROM_DICT_B"}
        OPTION = "FROM_OPTION_CONSTANT"

        def checked(var):
            return env.str(var, default="")

        def _int(environ, name):
            return int(environ.get(name, "0"))

        def options(environ=None):
            environ = os.environ if environ is None else environ
            return _int(environ, "THROUGH_ALIAS")

        def every(values):
            return [values.get(variable) for _, variable in NAMES.items()]

        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("--url-env", default=OPTION)
            args = parser.parse_args()
            every(dict(os.environ))
            os.environ.setdefault("NOT_A_READ", "x")
            os.environ["ALSO_NOT_A_READ"] = "x"
            return os.environ.get(args.url_env), os.getenv("BY_GETENV"), "IN_CHECK" in os.environ
        """,
    "pkg/settings.py": """
        from pkg.config import checked, env

        DEBUG = env.bool("LITERAL", default=False)
        URL = checked("THROUGH_PARAMETER")
        LOGGING = {"level": env("CALLED_ENV")}
        TARGET = {"URL_VAR": "CHOSEN_A" if env.str("CHOICE", "") else "CHOSEN_B"}
        checked(TARGET["URL_VAR"])
        """,
    "pkg/dynamic.py": """
        import os

        def read(spec):
            return os.environ.get(spec["name"])
        """,
}


def test_the_parse_follows_names_through_parameters_aliases_and_options(tmp_path: Path):
    for relative, source in SAMPLE.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    found = environment_reads(tmp_path, ["pkg"])
    assert set(found.names) == {
        "LITERAL",
        "THROUGH_PARAMETER",
        "CALLED_ENV",
        "CHOICE",
        "CHOSEN_A",
        "CHOSEN_B",
        "THROUGH_ALIAS",
        "FROM_DICT_A",
        "FROM_DICT_B",
        "FROM_OPTION_CONSTANT",
        "BY_GETENV",
        "IN_CHECK",
    }
    assert found.names["THROUGH_PARAMETER"] == {"pkg/settings.py:5"}  # where the name is given
    assert found.unresolved == {"pkg/dynamic.py:5": "spec['name']"}


def test_documented_names_come_from_the_first_cell_of_the_configuration_tables():
    readme = textwrap.dedent(
        """
        ## Configuration

        Prose naming `IN_PROSE` does not count.

        | variable | default | meaning |
        |---|---|---|
        | `IN_TABLE` | `1` | mentions `IN_MEANING` |

        ## Next section

        | `ELSEWHERE` | x | y |
        """
    )
    assert documented_names(readme) == {"IN_TABLE"}
