"""URLs of the queries section (mounted at /queries/)."""

from django.urls import path, re_path

from dashboard.queries import activity_views, report_views, views

app_name = "queries"

urlpatterns = [
    path("", views.statements, name="statements"),
    path("indexes/", report_views.indexes, name="indexes"),
    path("activity/", activity_views.activity, name="activity"),
    path("activity/<int:pid>/<str:how>/", activity_views.signal, name="signal"),
    path("health/", report_views.health, name="health"),
    path("snapshots/", report_views.snapshots, name="snapshots"),
    path("reset/", activity_views.reset, name="reset"),
    # Query ids are signed 64-bit integers.
    re_path(r"^(?P<queryid>-?\d+)/$", views.statement, name="statement"),
    re_path(r"^(?P<queryid>-?\d+)/explain/$", views.explain, name="explain"),
    re_path(
        r"^(?P<queryid>-?\d+)/explain/analyze/$", views.explain_analyze, name="explain_analyze"
    ),
    re_path(r"^(?P<queryid>-?\d+)/hypothetical/$", views.hypothetical, name="hypothetical"),
]
