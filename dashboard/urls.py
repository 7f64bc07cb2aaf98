"""URL map: one include per concern."""

from django.urls import path

from dashboard.accounts.views import LoginView, LogoutView
from dashboard.home import views as home
from dashboard.jobs import views as jobs

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("healthz", home.healthz, name="healthz"),
    path("", home.home, name="home"),
    path("jobs/health-check/", home.health_check_start, name="health_check_start"),
    path("jobs/<int:run_id>/", jobs.job_detail, name="job_detail"),
]
