"""`python manage.py connect`: point the console at a database and an Alembic project.

It runs before the console is configured (it writes the configuration), so manage.py hands
it the command line before Django starts. In order:

1. the console's role and its `django` schema, in a database of its own on the target's
   server that only the console's role (and the role setting it up) may connect to, so that
   no branch's role opens it, nor on Neon the copy every branch holds (or, with
   --console-in-target, in the target's database), pg_stat_statements, and
   the console's roles in the target: the reader its pages read as (TARGET_DATABASE_URL), the
   read-only role EXPLAIN ANALYZE runs as, the maintenance role of branches and the admin's
   actions: done with the privileged URL, or printed as the exact SQL to run where that role
   may not (the same statements as core.embedded's, which `make demo` and the tests run).
   The URL given is the owner's (the role that runs the application's migrations): the
   console's roles are set up from it, and it is written nowhere;
2. the Alembic project: the ini, the folders its code imports from, the variable its env.py
   reads the URL from and the module of its models (by a sentinel run of env.py);
3. the settings it derived, written to .env (mode 600; other values there are kept) or printed;
4. Django's migrate, createcachetable and collectstatic, and an admin operator;
5. the setup checklist (what `manage.py doctor` prints), each problem with its fix.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg
import psycopg.conninfo

from core.envfile import read_env_file, write_env_file
from dashboard.onboarding.project_facts import ProjectFacts, ProjectNotFound, project_facts
from dashboard.onboarding.provision import (
    ConsolePlan,
    Outcome,
    Server,
    prepare_console,
    prepare_target,
    schema_exists,
)

ROOT = Path(__file__).resolve().parent.parent.parent
CONSOLE_ROLE = "schemadesk"
CONSOLE_DATABASE = "schemadesk"
READONLY_URL = "TARGET_READONLY_DATABASE_URL"
MAINTENANCE_URL = "TARGET_MAINTENANCE_DATABASE_URL"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manage.py connect",
        description="Point the console at your database and Alembic project, then check it.",
    )
    parser.add_argument(
        "target_url",
        nargs="?",
        default=os.environ.get("OWNER_DATABASE_URL") or os.environ.get("TARGET_DATABASE_URL", ""),
        help="the application's database, as the role that owns its tables (default: "
        "$OWNER_DATABASE_URL, else $TARGET_DATABASE_URL; prefer a variable, it keeps the "
        "password out of the shell history). The console never uses it: it reads as a role "
        "of its own",
    )
    parser.add_argument(
        "--alembic",
        required=True,
        help="the project's alembic.ini, or the folder holding it",
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("ADMIN_DATABASE_URL", ""),
        help="a privileged role on the same server for the roles, database and grants "
        "(default: $ADMIN_DATABASE_URL, else the target's URL; what it may not do is printed)",
    )
    parser.add_argument("--schema", default="public", help="the application's schema")
    parser.add_argument("--console-role", default=CONSOLE_ROLE)
    place = parser.add_mutually_exclusive_group()
    place.add_argument(
        "--console-database",
        default=CONSOLE_DATABASE,
        help="the database of the console's own tables, on the target's server (default: "
        "schemadesk)",
    )
    place.add_argument(
        "--console-in-target",
        action="store_true",
        help="put the console's schema `django` in the target's database instead",
    )
    parser.add_argument(
        "--models",
        default="",
        help="the module defining the SQLModel tables (default: found from env.py)",
    )
    parser.add_argument(
        "--console-url",
        default="http://127.0.0.1:8000",
        help="where operators will open the console (http: cookies work without TLS)",
    )
    parser.add_argument("--operator", default="operator", help="the admin operator to create")
    parser.add_argument(
        "--env-file",
        default=os.environ.get("DOTENV_FILE") or str(ROOT / ".env"),
        help="where to write the settings (default: $DOTENV_FILE, else .env)",
    )
    parser.add_argument(
        "--print-env", action="store_true", help="print the settings instead of writing them"
    )
    return parser


def say(line: str = "") -> None:
    print(line, flush=True)


def _existing_password(existing: dict[str, str], variable: str, role: str) -> str:
    """Return `role`'s password from an earlier run's URL in `variable`, if any."""
    url = existing.get(variable, "")
    parts = urlsplit(url) if url else None
    if parts and unquote(parts.username or "") == role and parts.password:
        return unquote(parts.password)
    return ""


def derived_settings(
    args: argparse.Namespace,
    target: Server,
    plan: ConsolePlan,
    project: ProjectFacts,
    existing: dict[str, str],
) -> dict[str, str]:
    """Return .env's values: those already there, with what this run derived on top."""
    console = urlsplit(args.console_url)
    https = console.scheme == "https"
    hosts = dict.fromkeys([console.hostname or "127.0.0.1", "127.0.0.1", "localhost"])
    values = dict(existing)
    values.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    values.update(
        {
            "DATABASE_URL": target.with_login(plan.role, plan.password, plan.database),
            "TARGET_DATABASE_URL": target.with_login(
                plan.reader_role, plan.reader_password, target.dbname
            ),
            READONLY_URL: target.with_login(
                plan.readonly_role, plan.readonly_password, target.dbname
            ),
            MAINTENANCE_URL: target.with_login(
                plan.maintenance_role, plan.maintenance_password, target.dbname
            ),
            "TARGET_SCHEMA": args.schema,
            "ALEMBIC_CONFIG": str(project.config_path),
            "ALEMBIC_PYTHONPATH": os.pathsep.join(project.pythonpath),
            "ALLOWED_HOSTS": ",".join(hosts),
            "SECURE_COOKIES": "true" if https else "false",
        }
    )
    if https:
        values["CSRF_TRUSTED_ORIGINS"] = f"{console.scheme}://{console.netloc}"
    if project.url.name:
        values["ALEMBIC_URL_ENV"] = project.url.name
    models = args.models or project.models_module
    if models:
        values["SCHEMA_MODELS"] = models
    values.setdefault("BRANCH_PROVIDER", "local")
    return values


def _describe(values: dict[str, str], keys: list[str]) -> str:
    shown = []
    for key in keys:
        value = values.get(key, "")
        if key.endswith("_URL"):  # the role and where, never the password
            value = f"{Server(value).user}@{Server(value).location}"
        shown.append(f"    {key}={value}")
    return "\n".join(shown)


def migrate_with_audit_owner_lent(admin_url: str, role: str) -> str:
    """Run Django's migrations with the audit owner lent to the console's role for the run.

    Return "" when they ran, else what to run instead (the privileged role may not lend the
    membership and a migration needed it). The membership is taken back whatever happens.
    """
    from django.core.management import call_command

    from core.audit_owner import AuditOwnerError, audit_owner_lent
    from dashboard.audit.ownership import AuditOwnerNotReady

    try:
        with audit_owner_lent(admin_url, role):
            call_command("migrate", interactive=False, verbosity=0)
        return ""
    except (AuditOwnerError, psycopg.errors.InsufficientPrivilege):
        pass  # the privileged role may not lend it: enough when nothing needs it any more
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except AuditOwnerNotReady as exc:
        return str(exc)
    return ""


def lend_command(python: str, database: str, role: str) -> str:
    """Return the shell command running Django's migrations with the audit owner lent to
    `role`, quoted for the shell whatever the names (the operator fills in the `…`)."""
    url = f"postgresql://…/{quote(database, safe='')}"
    command = [python, "-m", "core.audit_owner", "--console-role", role, "--"]
    command += [python, "manage.py", "migrate", "--noinput"]
    return f"AUDIT_ADMIN_DATABASE_URL={shlex.quote(url)} {shlex.join(command)}"


def run_django_steps(operator: str, admin: Server, plan: ConsolePlan) -> bool:
    """Migrate the console's tables, its cache table and static files; make an admin.

    Return False when the migrations need a superuser first (what to run is printed).
    """
    import django
    from django.core.management import call_command

    django.setup()
    say("4. The console's tables, cache, static files and an admin operator")
    problem = migrate_with_audit_owner_lent(admin.with_database(plan.database), plan.role)
    if problem:
        python = sys.executable
        say(f"   ✗ migrate: {problem}")
        say()
        say(f"{admin.user} may not lend the audit owner to {plan.role}. In {ROOT}, with a")
        say("superuser's URL (to the console's database), run:")
        say()
        say(lend_command(python, plan.database, plan.role))
        say()
        say("Then run this command again.")
        return False
    say("   ✓ migrate (with the audit owner lent for the run, then taken back)")
    call_command("createcachetable", verbosity=0)
    say("   ✓ createcachetable")
    call_command("collectstatic", interactive=False, verbosity=0)
    say("   ✓ collectstatic")
    # The password comes from $OPERATOR_PASSWORD, else it is generated and printed once.
    call_command("operator_add", operator, role="admin", keep_existing=True)
    return True


def run_checks() -> int:
    from dashboard.onboarding.checklist import BAD, checklist_text
    from dashboard.onboarding.checks import setup_checks

    checks = setup_checks()
    say("5. Checks (run them again any time: python manage.py doctor)")
    say(checklist_text(checks))
    return 1 if any(check.status == BAD for check in checks) else 0


ENCODE_HINT = (
    "percent-encode these characters in the user name and password: @ as %40, : as %3A, "
    "/ as %2F, ? as %3F, # as %23, % as %25, a space as %20"
)


def url_problem(url: str, what: str) -> str:
    """Return why `url` is not a PostgreSQL URL connect can use ("" when it is), in words that
    never quote it (a malformed password would be shown)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"{what} is not a postgresql:// URL."
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
        psycopg.conninfo.conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://"))
    except (ValueError, psycopg.ProgrammingError):
        return f"{what} cannot be read: {ENCODE_HINT}."
    if parts.netloc.count("@") > 1:  # libpq takes the host from the first @, Python the last
        return f"{what} cannot be read: {ENCODE_HINT}."
    if parts.fragment or "#" in url:
        return f"{what} holds a # (everything after it is dropped): {ENCODE_HINT}."
    return ""


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.target_url:
        say(
            "error: give the URL of the application's database as its owner (or set "
            "OWNER_DATABASE_URL)."
        )
        return 2
    for url, what in ((args.target_url, "the owner's URL"), (args.admin_url, "the admin URL")):
        problem = url_problem(url, what) if url else ""
        if problem:
            say(f"error: {problem}")
            return 2
    target = Server(args.target_url)
    admin = Server(args.admin_url or args.target_url)
    if not target.dbname:
        say(
            "error: the URL names no database: add the application's after the host "
            "(postgresql://owner:…@host:5432/app)."
        )
        return 2
    try:  # before anything is made on the server: a wrong path leaves nothing half done
        project = project_facts(args.alembic)
    except ProjectNotFound as exc:
        say(f"error: {exc}")
        return 2
    env_file = Path(args.env_file).expanduser().resolve()
    writable = os.access(env_file, os.W_OK) if env_file.exists() else None
    if writable is None:
        writable = os.access(env_file.parent, os.W_OK)  # False too when it does not exist
    if not args.print_env and not writable:  # before the roles get passwords it would hold
        say(
            f"error: cannot write {env_file}: give --env-file a file you may write, or use "
            "--print-env."
        )
        return 2
    existing = read_env_file(env_file)
    database = target.dbname if args.console_in_target else args.console_database
    role = args.console_role

    def password(variable: str, login: str) -> str:
        return _existing_password(existing, variable, login) or secrets.token_urlsafe(24)

    plan = ConsolePlan(
        role=role,
        password=password("DATABASE_URL", role),
        database=database,
        in_target=args.console_in_target,
        readonly_password=password(READONLY_URL, f"{role}_readonly"),
        reader_password=password("TARGET_DATABASE_URL", f"{role}_reader"),
        maintenance_password=password(MAINTENANCE_URL, f"{role}_maintenance"),
        schema=args.schema,
    )
    say(f"Target: {target.location}, schema {args.schema}, owned by {target.user}")
    say(f"Privileged role: {admin.user}" + ("" if args.admin_url else " (the target's)"))
    outcome = Outcome()
    say("1. The console's role and schema, its roles in the target")
    try:
        if not schema_exists(admin, target, args.schema):
            say(
                f"error: there is no schema {args.schema} in {target.dbname}: give --schema "
                "the schema of the application's tables (default public)."
            )
            return 2
        prepare_console(admin, target, plan, outcome)
        provider = os.environ.get("BRANCH_PROVIDER") or existing.get("BRANCH_PROVIDER", "")
        prepare_target(admin, target, plan, outcome, local_branches=provider in ("", "local"))
    except psycopg.OperationalError as exc:
        say(f"error: cannot connect: {str(exc).strip().splitlines()[0]}")
        return 2
    for line in outcome.done:
        say(f"   ✓ {line}")
    if outcome.pending:
        say(f"   ! {admin.user} may not do the rest: the SQL is printed below")
    say("2. The Alembic project")
    say(f"   ✓ {project.config_path} (imports from {', '.join(project.pythonpath)})")
    say(f"   {'✓' if project.url.name else '!'} URL variable: {project.url.name or '?'}")
    say(f"     {project.url.how}")
    models = args.models or project.models_module
    say(f"   {'✓' if models else '!'} models: {models or 'none found (no drift check)'}")
    values = derived_settings(args, target, plan, project, existing)
    if args.print_env:
        say("3. Settings (put them in the environment or a .env file):")
        for key, value in values.items():
            say(f"{key}={value}")
    else:
        header = "Written by `manage.py connect` (re-running keeps other values). Secrets."
        write_env_file(env_file, values, header)
        say(f"3. Settings written to {env_file} (mode 600):")
        keys = ["DATABASE_URL", "TARGET_DATABASE_URL", READONLY_URL, MAINTENANCE_URL]
        keys += ["ALEMBIC_CONFIG"]
        keys += ["ALEMBIC_URL_ENV"]
        keys += ["SCHEMA_MODELS", "SECURE_COOKIES"]
        say(_describe(values, [key for key in keys if key in values]))
    if outcome.pending:
        say()
        say(f"{admin.user} may not do all of it. Run this as a superuser (psql -f file):")
        say()
        say(outcome.script())
        say()
        if outcome.blocking:
            say("Then run this command again: nothing more was done.")
            return 2
    shadowed = [
        key
        for key in ("TARGET_DATABASE_URL", READONLY_URL, MAINTENANCE_URL)
        if os.environ.get(key, values[key]) != values[key]
    ]
    if shadowed and not args.print_env:
        say()
        say(f"! {', '.join(shadowed)} set in this shell win over {env_file.name}: the console")
        say("  would not use the roles made for it. Before serving: unset " + " ".join(shadowed))
    os.environ.update(values)  # the configuration just derived, over any older environment
    os.environ["DOTENV_FILE"] = "" if args.print_env else str(env_file)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if not run_django_steps(args.operator, admin, plan):
        return 2
    return run_checks()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
