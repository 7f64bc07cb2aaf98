"""The Data section as a Django app (for its start-up check of the display settings)."""

from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "dashboard.data"
    label = "data"
    verbose_name = "Data browser"

    def ready(self) -> None:
        from dashboard.data import checks  # noqa: F401  (registers the system check)
