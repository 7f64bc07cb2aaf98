"""URLs of the Data section (mounted at /data/)."""

from django.urls import path

from dashboard.data import views

app_name = "data"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:table>/", views.table_list, name="list"),
    path("<str:table>/count/", views.table_count, name="count"),
    path("<str:table>/row/", views.row_detail, name="row"),
    path("<str:table>/export.csv", views.export, name="export"),
]
