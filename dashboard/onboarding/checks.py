"""The setup checklist: is everything the console needs in place, and how to fix what is not.

Shown by `manage.py connect` after it has set things up, by `manage.py doctor` at any time and
to admins on the Overview. Each check is one function returning a `Check`: a status (ok, warn,
bad), what was found and, when not ok, the fix (a statement to run or a setting to change).
The checks live beside this module by what they check: the target database (target_checks),
the Alembic project and the models (project_checks), the console itself (console_checks) and
its cookies (cookies); this module runs them in the order an operator fixes them.
"""

from __future__ import annotations

from django.db import DatabaseError

from dashboard.onboarding.checklist import BAD, Check
from dashboard.onboarding.console_checks import (
    audit_trail_protected,
    console_database_closed,
    console_database_facts,
    console_database_not_copied,
    console_schema,
)
from dashboard.onboarding.cookies import cookies_over_http
from dashboard.onboarding.project_checks import (
    alembic_project,
    migrations_apply,
    models_module,
    url_variable,
)
from dashboard.onboarding.target_checks import (
    all_statistics_readable,
    backends_signalable,
    branches_possible,
    hypopg_ready,
    no_login_creates_roles,
    read_only_role,
    reader_harmless,
    statements_created,
    statements_loaded,
    statements_reset_granted,
    target_facts,
)
from dashboard.target import TargetError


def _with_reason(exc: TargetError) -> str:
    """Return the sentence with the server's or driver's reason (a refused password, an
    unknown host), which the pages keep for the log: doctor's reader is its operator. libpq
    never quotes a password in it."""
    reason = exc.detail.strip().splitlines()[0] if exc.detail.strip() else ""
    return f"{exc.sentence} ({reason})" if reason and reason != exc.sentence else exc.sentence


def setup_checks(request_secure: bool | None = None) -> list[Check]:
    """Return every check, in the order an operator fixes them."""
    try:
        facts = target_facts()
    except TargetError as exc:
        target = [
            Check(
                "the target database answers",
                BAD,
                _with_reason(exc),
                "check TARGET_DATABASE_URL",
            )
        ]
    else:
        target = [
            statements_loaded(facts),
            statements_created(facts),
            reader_harmless(facts),
            no_login_creates_roles(facts),
            all_statistics_readable(facts),
            statements_reset_granted(facts),
            backends_signalable(facts),
            hypopg_ready(facts),
            branches_possible(facts),
            read_only_role(),
        ]
    project_check, project = alembic_project()
    try:
        console_database = console_database_facts()
    except DatabaseError as exc:  # refused, unreachable: a sentence, not a traceback
        lines = str(exc).strip().splitlines()
        console = [
            Check(
                "the console's database answers",
                BAD,
                lines[0] if lines else type(exc).__name__,
                "check DATABASE_URL (python manage.py connect writes it)",
            )
        ]
    else:
        console = [
            console_schema(),
            audit_trail_protected(),
            console_database_closed(console_database),
            console_database_not_copied(console_database),
        ]
    return [
        *console,
        *target,
        project_check,
        url_variable(project),
        migrations_apply(),
        models_module(),
        cookies_over_http(request_secure),
    ]
