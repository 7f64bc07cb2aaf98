from django.apps import AppConfig


class DataAdminConfig(AppConfig):
    name = "benchmarks.data_admin"
    label = "data_admin"
    default_auto_field = "django.db.models.BigAutoField"
