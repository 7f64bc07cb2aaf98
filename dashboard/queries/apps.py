from django.apps import AppConfig


class QueriesConfig(AppConfig):
    name = "dashboard.queries"
    label = "queries"
    verbose_name = "Query performance"
