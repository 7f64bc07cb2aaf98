"""The setup checks of the Alembic project and the models: does the project load, which
variable env.py reads the URL from, can migrations be applied from the console, and does the
models module import for the drift check."""

from __future__ import annotations

from django.conf import settings

from dashboard.history.apply import apply_problem
from dashboard.history.commands import redacted
from dashboard.history.project import Project, ProjectError, load_project
from dashboard.history.url_variable import detect_url_variable
from dashboard.onboarding.checklist import BAD, OK, WARN, Check
from dashboard.schema.drift import models_metadata, models_module_name


def alembic_project() -> tuple[Check, Project | None]:
    """Return the check and the loaded project (None when it does not load)."""
    title = "the Alembic project loads"
    try:
        project = load_project()
    except ProjectError as exc:
        return Check(title, BAD, exc.sentence, f"set {exc.setting or 'ALEMBIC_CONFIG'}"), None
    heads = ", ".join(project.script.get_heads()) or "no revision"
    count = sum(1 for _ in project.script.walk_revisions())
    return (
        Check(
            title,
            OK,
            f"{project.settings.config_path}: {count} revision{'s' * (count != 1)}, head {heads}",
        ),
        project,
    )


def url_variable(project: Project | None) -> Check:
    title = "env.py's URL variable (ALEMBIC_URL_ENV)"
    if project is None:
        return Check(title, WARN, "the Alembic project did not load")
    configured = str(getattr(settings, "ALEMBIC_URL_ENV", "") or "").strip()
    found = detect_url_variable(
        project.settings.config_path,
        project.script_location,
        project.settings.workdir,
        project.settings.pythonpath,
    )
    if found.name and configured and configured != found.name:
        return Check(
            title,
            BAD,
            f"ALEMBIC_URL_ENV is {configured}, but env.py reads {found.name}: trial runs get "
            "no URL and the printed apply command is wrong",
            f"set ALEMBIC_URL_ENV={found.name}",
        )
    if found.name:
        said = "confirmed" if configured else "detected (ALEMBIC_URL_ENV is unset)"
        return Check(title, OK, f"{found.name}, {said}: {found.how}")
    if found.ini_url:
        return Check(title, OK, found.how)
    if configured:
        return Check(title, WARN, f"ALEMBIC_URL_ENV={configured}, not confirmed: {found.how}")
    return Check(title, BAD, found.how, "set ALEMBIC_URL_ENV to the variable env.py reads")


def migrations_apply() -> Check:
    """Return whether applying from the console, where it is switched on, can work."""
    title = "applying migrations from the console"
    if not settings.MIGRATIONS_APPLY_ENABLED:
        return Check(title, OK, "off (MIGRATIONS_APPLY_ENABLED=false): the page shows the command")
    problem = apply_problem()
    if problem:
        return Check(
            title,
            BAD,
            "MIGRATIONS_APPLY_ENABLED=true without MIGRATIONS_APPLY_DATABASE_URL: an admin's "
            "apply cannot run (the Migrations page shows the command instead)",
            "set MIGRATIONS_APPLY_DATABASE_URL to the URL of the role that owns the "
            "application's tables, or MIGRATIONS_APPLY_ENABLED=false",
        )
    return Check(title, OK, "on: admins apply as the role of MIGRATIONS_APPLY_DATABASE_URL")


def models_module() -> Check:
    title = "the models module imports (drift check)"
    name = models_module_name()
    if not name:
        return Check(
            title,
            WARN,
            "SCHEMA_MODELS is not set: no drift check between the models and the database",
            "set SCHEMA_MODELS to the module defining the SQLModel tables, e.g. app.models",
        )
    try:
        metadata = models_metadata(name)
    except Exception as exc:  # shown, whatever the project's import raised
        return Check(
            title,
            BAD,
            redacted(f"{name}: {type(exc).__name__}: {exc}"),  # it may quote a project's URL
            "set SCHEMA_MODELS to an importable module, and ALEMBIC_PYTHONPATH to the folder "
            "it is imported from",
        )
    if not metadata.tables:  # the drift card would find every table missing from the models
        return Check(
            title,
            WARN,
            f"{name} imports, but defines no SQLModel tables: the drift check would report "
            "every table of the database as missing from the models",
            "set SCHEMA_MODELS to the module whose import defines the table=True classes "
            "(those of env.py's target_metadata)",
        )
    return Check(title, OK, f"{name}: {len(metadata.tables)} SQLModel tables")
