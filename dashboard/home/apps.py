from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "dashboard.home"
    label = "home"
    verbose_name = "Overview"
