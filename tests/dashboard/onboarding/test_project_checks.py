"""The Alembic project's and the models' checks, run against the test cluster."""

from __future__ import annotations

import pytest

from dashboard.onboarding import project_checks
from dashboard.onboarding.checklist import BAD, OK, WARN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_project")]


def test_a_wrong_alembic_url_env_is_named_with_the_variable_env_py_reads(settings):
    settings.ALEMBIC_URL_ENV = "DATABASE_URL"
    check, project = project_checks.alembic_project()
    assert check.status == OK
    found = project_checks.url_variable(project)
    assert found.status == BAD
    assert "ALEMBIC_URL_ENV is DATABASE_URL, but env.py reads APP_DIRECT_URL" in found.found
    assert found.fix == "set ALEMBIC_URL_ENV=APP_DIRECT_URL"


def test_the_models_module_off_or_broken(settings):
    settings.SCHEMA_MODELS = ""
    assert project_checks.models_module().status == WARN
    settings.SCHEMA_MODELS = "onboarding_no_such.models"
    broken = project_checks.models_module()
    assert broken.status == BAD and "ModuleNotFoundError" in broken.found


def test_a_models_module_raising_with_a_url_shows_no_password(settings, tmp_path, monkeypatch):
    (tmp_path / "onboard_leaky_models.py").write_text(
        "raise RuntimeError('cannot reach postgresql://app:s3cret-pw@db.example/app')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.SCHEMA_MODELS = "onboard_leaky_models"
    found = project_checks.models_module()
    assert found.status == BAD
    assert "RuntimeError: cannot reach postgresql://app:***@db.example/app" in found.found
    assert "s3cret-pw" not in found.found
