from django.urls import path

from dashboard.audit import views
from dashboard.changes import views as changes

app_name = "audit"

urlpatterns = [
    path("", views.events, name="events"),
    path("export.csv", views.export_csv, name="export"),
    path("<int:event_id>/", changes.event_detail, name="event"),
    path("<int:event_id>/revert/", changes.revert, name="revert"),
]
