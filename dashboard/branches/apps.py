from django.apps import AppConfig


class BranchesConfig(AppConfig):
    name = "dashboard.branches"
    label = "branches"
    verbose_name = "Branches"
