"""URLs of the Data section (mounted at /data/); a table name is one segment (see converters)."""

from django.urls import path

from dashboard.data import views

app_name = "data"

urlpatterns = [
    path("", views.index, name="index"),
    path("<segment:table>/", views.table_list, name="list"),
    path("<segment:table>/count/", views.table_count, name="count"),
    path("<segment:table>/row/", views.row_detail, name="row"),
    path("<segment:table>/export.csv", views.export, name="export"),
]
