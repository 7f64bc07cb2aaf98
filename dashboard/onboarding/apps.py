from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "dashboard.onboarding"
    label = "onboarding"
    verbose_name = "Setup: connect and checks"
