"""URL map: one include per concern."""

from django.urls import include, path, register_converter

from dashboard.accounts.roles import public
from dashboard.accounts.views import LoginView, LogoutView
from dashboard.converters import AnythingConverter, SegmentConverter
from dashboard.home import views as home
from dashboard.jobs import views as jobs
from dashboard.onboarding import views as onboarding

register_converter(SegmentConverter, "segment")  # a table name in the Data section
register_converter(AnythingConverter, "anything")  # table names in Schema, end-user ids

handler500 = "dashboard.errors.server_error"

urlpatterns = [
    path("login/", public(LoginView.as_view()), name="login"),
    path("logout/", public(LogoutView.as_view()), name="logout"),
    path("healthz", home.healthz, name="healthz"),
    path("", home.home, name="home"),
    path("overview/<slug:key>/", home.overview_line, name="overview_line"),
    path("jobs/health-check/", home.health_check_start, name="health_check_start"),
    path("setup-checks/", onboarding.checklist, name="setup_checks"),
    path("jobs/<int:run_id>/", jobs.job_detail, name="job_detail"),
    path("schema/", include("dashboard.schema.urls")),
    path("data/", include("dashboard.data.urls")),
    path("migrations/", include("dashboard.history.urls")),
    path("branches/", include("dashboard.branches.urls")),
    path("queries/", include("dashboard.queries.urls")),
    path("users/", include("dashboard.users.urls")),
    path("audit/", include("dashboard.audit.urls")),
]
