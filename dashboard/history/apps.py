from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "dashboard.history"
    label = "history"
    verbose_name = "Migrations"

    def ready(self) -> None:
        from dashboard.history.offline import sql_given_up
        from dashboard.jobs.abandoned import run_abandoned

        run_abandoned.connect(sql_given_up, dispatch_uid="history.sql_given_up")
