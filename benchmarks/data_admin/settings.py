"""Settings of the benchmarks: the console's, plus Django admin over the target's tables."""

from dashboard.config import database_settings
from dashboard.settings import *  # noqa: F403
from dashboard.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin", "benchmarks.data_admin"]
DATABASES["bench"] = database_settings("TARGET_DATABASE_URL")  # noqa: F405
DATABASE_ROUTERS = ["benchmarks.data_admin.router.BenchRouter"]
ROOT_URLCONF = "benchmarks.data_admin.urls"
