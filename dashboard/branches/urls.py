"""URLs of the branches section (mounted at /branches/)."""

from django.urls import path

from dashboard.branches import views

app_name = "branches"

urlpatterns = [
    path("", views.branch_list, name="list"),
    path("new/", views.branch_create, name="create"),
    path("jobs/<int:run_id>/", views.branch_job, name="job"),
    path("<str:branch_id>/", views.branch_detail, name="detail"),
    path("<str:branch_id>/reveal/", views.branch_reveal, name="reveal"),
    path("<str:branch_id>/schema-diff/", views.branch_schema_diff, name="diff"),
    path("<str:branch_id>/delete/", views.branch_delete, name="delete"),
    path("<str:branch_id>/reset/", views.branch_reset, name="reset"),
]
