"""URLs of the Migrations section (revision ids may contain anything but a slash)."""

from django.urls import path

from dashboard.history import views

app_name = "history"

urlpatterns = [
    path("", views.index, name="index"),
    path("revisions/<str:revision_id>/", views.revision, name="revision"),
    path(
        "revisions/<str:revision_id>/regenerate",
        views.revision_regenerate,
        name="revision_regenerate",
    ),
    path("trials/", views.trials, name="trials"),
    path("trials/start", views.trial_start, name="trial_start"),
    path("trials/<int:trial_id>/", views.trial, name="trial"),
    path("apply", views.apply, name="apply"),
]
