"""Django settings for the Schemadesk console, read from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import environ

from dashboard.config import (
    checked_database_url,
    database_settings,
    direct_database_url,
    env,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured(
        "SECRET_KEY is not set: put a long random value in the environment "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "procrastinate.contrib.django",
    "dashboard.accounts",
    "dashboard.audit",
    "dashboard.jobs",
    "dashboard.home",
    "dashboard.data",
    "dashboard.queries",
    "dashboard.history",
    "dashboard.branches",
    "dashboard.onboarding",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, which answers for static files itself: those get the headers too.
    "dashboard.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.LoginRequiredMiddleware",
    "dashboard.middleware.RoleRequiredMiddleware",
    "dashboard.middleware.FriendlyErrorsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context.navigation",
            ],
            # {% partialdef %} everywhere without {% load partials %} (as in Django 6).
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# Django's own tables live in the schema `django`: the console's role has
# `ALTER ROLE ... SET search_path = django`, which holds behind a transaction-mode pooler.
DATABASES = {"default": database_settings("DATABASE_URL")}
# The worker LISTENs for new jobs on a direct connection: through a transaction pooler
# (Neon's -pooler host, PgBouncer) notifications are dropped. Default: DATABASE_URL with
# Neon's `-pooler` removed from the host.
DATABASE_DIRECT_URL = direct_database_url("DATABASE_URL", "DATABASE_DIRECT_URL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "schemadesk_cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sessions live in schema `django` under a hash of their key: a copy of the table (a Neon branch
# of the database, a backup) holds no session the console accepts.
SESSION_ENGINE = "dashboard.accounts.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=300)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names need `collectstatic` (done by the Dockerfile and make demo).
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and `runserver` serve files straight from STATICFILES_DIRS without collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_MANIFEST_STRICT = False

# Security: secure cookies and HSTS whenever the console is served over HTTPS.
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# The target database: the application's, reflected and read, never managed by Django.
TARGET = {
    "URL_VAR": "TARGET_DATABASE_URL" if env.str("TARGET_DATABASE_URL", "") else "DATABASE_URL",
    "SCHEMA": env.str("TARGET_SCHEMA", default="public"),
    "STATEMENT_TIMEOUT_MS": env.int("TARGET_STATEMENT_TIMEOUT_MS", default=5000),
    "LOCK_TIMEOUT_MS": env.int("TARGET_LOCK_TIMEOUT_MS", default=1000),
    "CONNECT_TIMEOUT_S": env.int("TARGET_CONNECT_TIMEOUT_S", default=5),
    # A pooled connection unused for longer than this is pinged before a read uses it.
    "PING_AFTER_IDLE_S": env.float("TARGET_PING_AFTER_IDLE_S", default=10),
    # EXPLAIN ANALYZE runs statements as a read-only role: its own login (preferred), or a role
    # the target's role may SET ROLE to. Neither set: EXPLAIN ANALYZE is refused.
    "READONLY_URL_VAR": (
        "TARGET_READONLY_DATABASE_URL" if env.str("TARGET_READONLY_DATABASE_URL", "") else ""
    ),
    "READONLY_ROLE": env.str("TARGET_READONLY_ROLE", default=""),
    # What is more than reading (local branch clones; the admin's cancel, terminate and reset
    # statistics) runs as a maintenance role; unset, as the target's role (the old layout).
    "MAINTENANCE_URL_VAR": (
        "TARGET_MAINTENANCE_DATABASE_URL" if env.str("TARGET_MAINTENANCE_DATABASE_URL", "") else ""
    ),
    # Applying migrations from the console (MIGRATIONS_APPLY_ENABLED) runs as the owner of the
    # application's tables; unset, as the target's role (the old layout).
    "APPLY_URL_VAR": (
        "MIGRATIONS_APPLY_DATABASE_URL" if env.str("MIGRATIONS_APPLY_DATABASE_URL", "") else ""
    ),
}
for _url_var in ("READONLY_URL_VAR", "MAINTENANCE_URL_VAR", "APPLY_URL_VAR"):
    if TARGET[_url_var]:
        checked_database_url(TARGET[_url_var])
REFLECTION_CHECK_SECONDS = env.float("REFLECTION_CHECK_SECONDS", default=10)
# Roles whose statements and sessions are the console's own (hidden by default in Queries,
# Activity and Health), besides the roles of the console's URLs that cannot write the
# application's tables (dashboard/console_work.py).
CONSOLE_ROLES = env.list("CONSOLE_ROLES", default=[])
checked_database_url(TARGET["URL_VAR"])  # stop start-up now if it is missing or malformed

# Branches: `local` clones the target database on its server; `neon` uses the Neon API.
BRANCH_PROVIDER = env.str("BRANCH_PROVIDER", default="local")
# When expired local branches are deleted (Neon deletes its own).
BRANCH_EXPIRY_CRON = env.str("BRANCH_EXPIRY_CRON", default="*/15 * * * *")
NEON_API_URL = env.str("NEON_API_URL", default="https://console.neon.tech/api/v2")
NEON_PROJECT_ID = env.str("NEON_PROJECT_ID", default="")
# NEON_API_KEY is read from the environment where it is used, never copied into settings.

# ---- section settings (one block per concern) ----

# Data: browsing any table (lists with keyset pages, rows, CSV export).
DATA_PAGE_SIZE = env.int("DATA_PAGE_SIZE", default=50)  # 25, 50, 100 or 200
DATA_OFFSET_MAX_ROWS = env.int("DATA_OFFSET_MAX_ROWS", default=10_000)  # page numbers reach this
DATA_EXACT_COUNT_MAX = env.int("DATA_EXACT_COUNT_MAX", default=100_000)  # count exactly below
DATA_COUNT_TIMEOUT_MS = env.int("DATA_COUNT_TIMEOUT_MS", default=200)  # a filtered count's budget
DATA_EXPORT_MAX_ROWS = env.int("DATA_EXPORT_MAX_ROWS", default=100_000)
DATA_DISPLAY_FILE = env.str("DATA_DISPLAY_FILE", default="")  # per-table display settings

# Schema: the module whose SQLModel models the live schema is compared with (drift); "" = off.
SCHEMA_MODELS = env.str("SCHEMA_MODELS", default="")

# Branches: throw-away copies of the target (Neon branches or local clones), made by jobs.
BRANCH_READY_DEADLINE_SECONDS = env.int("BRANCH_READY_DEADLINE_SECONDS", default=300)
NEON_POLL_INTERVAL_SECONDS = env.float("NEON_POLL_INTERVAL_SECONDS", default=1.0)
NEON_TIMEOUT_SECONDS = env.float("NEON_TIMEOUT_SECONDS", default=30.0)
NEON_MAX_RETRIES = env.int("NEON_MAX_RETRIES", default=4)
NEON_DATABASE_NAME = env.str("NEON_DATABASE_NAME", default="")  # empty: neondb or the only one
NEON_ROLE_NAME = env.str("NEON_ROLE_NAME", default="")  # empty: the database's owner

# Users (support view): one end-user's data across tables, behind a reason and an audit trail.
USERS_TABLE = env.str("USERS_TABLE", default="")  # empty: detect the most referenced users table
USER_LINKS = env.json("USER_LINKS", default={})  # links without a foreign key, see README
SUPPORT_REASON_REQUIRED = env.bool("SUPPORT_REASON_REQUIRED", default=True)
# A reason is kept this long per purpose (browsing, or one end-user), then asked again.
SUPPORT_REASON_TTL_SECONDS = env.int("SUPPORT_REASON_TTL_SECONDS", default=1800)
SUPPORT_COUNT_LIMIT = env.int("SUPPORT_COUNT_LIMIT", default=100_000)
SUPPORT_COUNT_TIMEOUT_MS = env.int("SUPPORT_COUNT_TIMEOUT_MS", default=1000)
# Linked tables whose first rows the user page reads at once; the other cards load when opened.
SUPPORT_USER_PAGE_CARDS = env.int("SUPPORT_USER_PAGE_CARDS", default=5)
SUPPORT_EXPORT_BATCH_ROWS = env.int("SUPPORT_EXPORT_BATCH_ROWS", default=2000)

# Time machine: compare one end-user's data with a branch (or the data as of a time).
COMPARE_MAX_ROWS = env.int("COMPARE_MAX_ROWS", default=20_000)  # per table and side
COMPARE_PAGE_ROWS = env.int("COMPARE_PAGE_ROWS", default=25)
COMPARE_TIMEOUT_MS = env.int("COMPARE_TIMEOUT_MS", default=5000)  # per statement
# "As of <time>" on Neon makes a point-in-time branch, deleted after this long unless kept.
TIME_MACHINE_BRANCH_TTL_SECONDS = env.int("TIME_MACHINE_BRANCH_TTL_SECONDS", default=7200)
# Local branches cannot go back in time: scheduled snapshot branches ("" = none), kept this long.
LOCAL_SNAPSHOT_CRON = env.str("LOCAL_SNAPSHOT_CRON", default="")
LOCAL_SNAPSHOT_RETENTION_HOURS = env.int("LOCAL_SNAPSHOT_RETENTION_HOURS", default=48)

# Row changes (restore, edit, add, delete, revert): off unless enabled, admins only, through the
# one write door (dashboard/target_write.py) as its own role (TARGET_WRITE_DATABASE_URL).
DATA_WRITES_ENABLED = env.bool("DATA_WRITES_ENABLED", default=False)
TARGET_WRITE = {
    "URL_VAR": "TARGET_WRITE_DATABASE_URL" if env.str("TARGET_WRITE_DATABASE_URL", "") else "",
    "STATEMENT_TIMEOUT_MS": env.int("TARGET_WRITE_STATEMENT_TIMEOUT_MS", default=5000),
    "LOCK_TIMEOUT_MS": env.int("TARGET_WRITE_LOCK_TIMEOUT_MS", default=2000),
    # The per-transaction setting row-level security policies read the end-user from.
    "USER_SETTING": env.str("TARGET_RLS_USER_SETTING", default="app.current_user_id"),
    # A change (with what cascades from it) touches at most this many rows.
    "MAX_ROWS": env.int("DATA_WRITE_MAX_ROWS", default=1000),
}
if TARGET_WRITE["URL_VAR"]:
    checked_database_url(TARGET_WRITE["URL_VAR"])

# Audit trail: owned by a role the console does not log in as, chained by a keyed hash.
AUDIT_OWNER_ROLE = env.str("AUDIT_OWNER_ROLE", default="schemadesk_audit")
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="")  # empty: derived from SECRET_KEY
AUDIT_VERIFY_PAGE_EVENTS = env.int("AUDIT_VERIFY_PAGE_EVENTS", default=500)  # per page view
AUDIT_VERIFY_CRON = env.str("AUDIT_VERIFY_CRON", default="40 3 * * *")  # full verification

# Migrations: the Alembic project the console reads, reviews and trial-runs on a branch.
ALEMBIC_CONFIG = env.str("ALEMBIC_CONFIG", default=str(BASE_DIR / "alembic.ini"))
ALEMBIC_WORKDIR = env.str("ALEMBIC_WORKDIR", default="")  # empty: the config file's folder
ALEMBIC_PYTHONPATH = env.str("ALEMBIC_PYTHONPATH", default="")  # os.pathsep-separated folders
ALEMBIC_URL_ENV = env.str("ALEMBIC_URL_ENV", default="")  # empty: detected from env.py
ALEMBIC_VERSION_TABLE = env.str("ALEMBIC_VERSION_TABLE", default="alembic_version")
ALEMBIC_VERSION_SCHEMA = env.str("ALEMBIC_VERSION_SCHEMA", default="")  # empty: TARGET_SCHEMA
ALEMBIC_TIMEOUT_S = env.int("ALEMBIC_TIMEOUT_S", default=600)
ALEMBIC_OFFLINE_TIMEOUT_S = env.int("ALEMBIC_OFFLINE_TIMEOUT_S", default=60)
MIGRATION_LOCK_TIMEOUT = env.str("MIGRATION_LOCK_TIMEOUT", default="5s")
MIGRATIONS_APPLY_ENABLED = env.bool("MIGRATIONS_APPLY_ENABLED", default=False)
SQUAWK_BINARY = env.str("SQUAWK_BINARY", default="")  # empty: next to python, else PATH
TRIAL_BRANCH_READY_TIMEOUT_S = env.int("TRIAL_BRANCH_READY_TIMEOUT_S", default=600)
LOCAL_BRANCH_CLONE_TIMEOUT_S = env.int("LOCAL_BRANCH_CLONE_TIMEOUT_S", default=900)

# Queries: pg_stat_statements history, EXPLAIN, indexes and live activity.
QUERIES_SNAPSHOT_CRON = env.str("QUERIES_SNAPSHOT_CRON", default="*/5 * * * *")
QUERIES_SNAPSHOT_RETENTION_DAYS = env.int("QUERIES_SNAPSHOT_RETENTION_DAYS", default=14)
QUERIES_EXPLAIN_TIMEOUT_MS = env.int("QUERIES_EXPLAIN_TIMEOUT_MS", default=10000)
QUERIES_LONG_RUNNING_SECONDS = env.int("QUERIES_LONG_RUNNING_SECONDS", default=60)
QUERIES_IDLE_IN_TRANSACTION_SECONDS = env.int("QUERIES_IDLE_IN_TRANSACTION_SECONDS", default=30)
QUERIES_SEQ_SCAN_MIN_ROWS = env.int("QUERIES_SEQ_SCAN_MIN_ROWS", default=10000)

# Overview: each line of the checklist loads on its own, within this statement timeout; amber
# (warn) and red (bad) thresholds. Long-running and idle-in-transaction use the QUERIES_ ones.
OVERVIEW_CHECK_TIMEOUT_MS = env.int("OVERVIEW_CHECK_TIMEOUT_MS", default=3000)
OVERVIEW_SLOW_STATEMENT_MS = env.float("OVERVIEW_SLOW_STATEMENT_MS", default=100.0)
OVERVIEW_VERY_SLOW_STATEMENT_MS = env.float("OVERVIEW_VERY_SLOW_STATEMENT_MS", default=1000.0)
OVERVIEW_SLOW_STATEMENT_MIN_CALLS = env.int("OVERVIEW_SLOW_STATEMENT_MIN_CALLS", default=5)
OVERVIEW_CONNECTIONS_WARN_PERCENT = env.float("OVERVIEW_CONNECTIONS_WARN_PERCENT", default=70.0)
OVERVIEW_CONNECTIONS_BAD_PERCENT = env.float("OVERVIEW_CONNECTIONS_BAD_PERCENT", default=90.0)
OVERVIEW_WRAPAROUND_WARN_PERCENT = env.float("OVERVIEW_WRAPAROUND_WARN_PERCENT", default=25.0)
OVERVIEW_WRAPAROUND_BAD_PERCENT = env.float("OVERVIEW_WRAPAROUND_BAD_PERCENT", default=50.0)
OVERVIEW_DEAD_ROWS_WARN_PERCENT = env.float("OVERVIEW_DEAD_ROWS_WARN_PERCENT", default=20.0)
OVERVIEW_DEAD_ROWS_BAD_PERCENT = env.float("OVERVIEW_DEAD_ROWS_BAD_PERCENT", default=50.0)

# Jobs: the procrastinate worker (`manage.py run_worker`, started by serve_console).
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=2)
# Jobs start at once through LISTEN/NOTIFY; polling is the fallback.
WORKER_POLL_INTERVAL_SECONDS = env.float("WORKER_POLL_INTERVAL_SECONDS", default=5.0)
# While the console's database is away the worker retries with backoff, at most this long apart.
WORKER_RECONNECT_MAX_SECONDS = env.float("WORKER_RECONNECT_MAX_SECONDS", default=5.0)
# A running job writes a heartbeat this often; one silent for the timeout lost its worker and
# is failed (and retried where safe) by whoever looks: its page, or the sweep on JOB_SWEEP_CRON.
JOB_HEARTBEAT_INTERVAL_SECONDS = env.float("JOB_HEARTBEAT_INTERVAL_SECONDS", default=10.0)
JOB_HEARTBEAT_TIMEOUT_SECONDS = env.float("JOB_HEARTBEAT_TIMEOUT_SECONDS", default=60.0)
JOB_SWEEP_CRON = env.str("JOB_SWEEP_CRON", default="* * * * *")
if JOB_HEARTBEAT_TIMEOUT_SECONDS < 3 * JOB_HEARTBEAT_INTERVAL_SECONDS:
    raise environ.ImproperlyConfigured(
        "JOB_HEARTBEAT_TIMEOUT_SECONDS must be at least three JOB_HEARTBEAT_INTERVAL_SECONDS: "
        "a shorter timeout would give up on jobs whose worker is alive."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One rule for every line (dashboard/logfilters.py; gunicorn's lines use it too):
    # end-user ids in user-page paths are redacted and control characters escaped.
    "formatters": {
        "plain": {
            "()": "dashboard.logfilters.ScrubbingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "filters": {
        "redact_user_paths": {"()": "dashboard.logfilters.RedactUserPaths"},
        # A database that does not answer is one line, not a traceback from every layer.
        "connection_errors_in_one_line": {
            "()": "dashboard.connection_errors.ConnectionErrorsInOneLine"
        },
        # While a database is down the same line repeats many times a second: write it once
        # per interval, with the number held back.
        "repeats_once": {
            "()": "dashboard.log_repeats.RepeatsOncePerInterval",
            "interval_seconds": env.float("LOG_REPEAT_INTERVAL_SECONDS", default=60.0),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_user_paths", "connection_errors_in_one_line", "repeats_once"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "procrastinate": {"level": env.str("PROCRASTINATE_LOG_LEVEL", default="WARNING")},
        "alembic.runtime": {"level": "WARNING"},
    },
}
