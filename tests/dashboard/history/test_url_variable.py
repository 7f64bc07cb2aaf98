"""The variable an env.py reads its URL from: read in its source, confirmed by a sentinel run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dashboard.history.project import load_project
from dashboard.history.url_variable import (
    detect_url_variable,
    forget_detected,
    variables_read_in_source,
)
from tests.dashboard.history.conftest import NUMBERED, URL_ENV, write_project


@pytest.fixture(autouse=True)
def _fresh():
    forget_detected()
    yield
    forget_detected()


def test_the_source_is_read_for_literal_names_in_order():
    source = textwrap.dedent(
        """
        import os
        from os import environ, getenv
        A = os.environ["FIRST_URL"]
        B = os.environ.get("SECOND_URL", "")
        C = os.getenv("THIRD_URL")
        D = environ.get("FOURTH_URL")
        E = getenv("FIFTH_URL")
        F = os.environ.get(name_in_a_variable)
        G = os.environ["FIRST_URL"]
        """
    )
    assert variables_read_in_source(source) == (
        "FIRST_URL",
        "SECOND_URL",
        "THIRD_URL",
        "FOURTH_URL",
        "FIFTH_URL",
    )
    assert variables_read_in_source("this is not python(") == ()


def _project(root: Path, env_py: str, helper: str = "") -> tuple[Path, Path]:
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (root / "migrations" / "env.py").write_text(textwrap.dedent(env_py))
    if helper:
        (root / "probe_helper_settings.py").write_text(textwrap.dedent(helper))
    return root / "alembic.ini", root / "migrations"


OFFLINE = """
from alembic import context
context.configure(url=URL, literal_binds=True)
with context.begin_transaction():
    context.run_migrations()
"""


def test_a_variable_read_through_a_helper_module_is_found_by_the_sentinel(tmp_path):
    ini, location = _project(
        tmp_path,
        "from probe_helper_settings import database_url\nURL = database_url()\n" + OFFLINE,
        helper="""
        import os
        TIMEOUT = os.environ.get("SHOP_TIMEOUT", "5s")
        # Read once, at import (a fresh process per sentinel run sees each value).
        DSN = os.environ.get("SHOP_PRIMARY_DSN") or os.environ["SHOP_FALLBACK_DSN"]
        def database_url():
            return DSN
        """,
    )
    found = detect_url_variable(ini, location, tmp_path, (str(tmp_path),))
    # Both carry a URL to Alembic; the first env.py reads wins (it takes precedence).
    assert found.name == "SHOP_PRIMARY_DSN"
    assert found.read_in_source == ()  # nothing in env.py itself names it
    assert "sentinel" in found.how


def test_the_url_in_the_ini_file_is_recognised(tmp_path):
    ini, location = _project(
        tmp_path,
        "from alembic import context\n"
        'URL = context.config.get_main_option("sqlalchemy.url")\n' + OFFLINE,
    )
    found = detect_url_variable(ini, location, tmp_path)
    assert found.ini_url and found.name == ""
    assert "sqlalchemy.url" in found.how


def test_an_env_py_that_fails_says_to_set_the_variable(tmp_path):
    ini, location = _project(tmp_path, "import os\nraise RuntimeError('boom')\n")
    found = detect_url_variable(ini, location, tmp_path)
    assert found.name == "" and "Set ALEMBIC_URL_ENV" in found.how


def test_an_env_py_that_fails_says_what_it_raised(tmp_path):
    """A newcomer's broken env.py: the sentence names its error, not only the variable."""
    ini, location = _project(
        tmp_path, "raise RuntimeError('no settings in postgresql://app:s3cret@db/app')\n"
    )
    found = detect_url_variable(ini, location, tmp_path)
    assert "env.py raised RuntimeError: no settings in postgresql://app:***@db/app" in found.how
    assert "s3cret" not in found.how


@pytest.mark.django_db
def test_unset_alembic_url_env_is_detected_and_handed_to_each_run(
    settings, console_on, tmp_path, project_database
):
    from dashboard.history.apply import apply_command
    from dashboard.history.commands import alembic_step
    from tests.dashboard.history.conftest import owner_url

    project = write_project(tmp_path, NUMBERED)
    console_on(project, project_database)
    settings.ALEMBIC_URL_ENV = ""  # unset: the console must find HISTORY_PROJECT_URL
    loaded = load_project()
    assert loaded.settings.url_env == URL_ENV
    assert f" {URL_ENV}=postgresql://USER:PASSWORD@" in apply_command(loaded, "head")
    # A step really runs with it (with the old default it found no URL and failed).
    step = alembic_step(
        loaded.settings,
        str(loaded.script_location),
        "upgrade",
        "001",
        url=owner_url(project_database),
    )
    assert step.ok, step.log
