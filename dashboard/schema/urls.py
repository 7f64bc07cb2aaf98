"""URLs of the Schema section.

Table pages end with a slash and the other pages do not, so no table name (even "diagram" or
"erd.svg") can collide with them; `path:` lets a name contain a slash.
"""

from django.urls import path

from dashboard.schema import views

app_name = "schema"

urlpatterns = [
    path("", views.tables, name="tables"),
    path("diagram", views.diagram, name="diagram"),
    path("erd.svg", views.erd, name="erd"),
    path("<path:name>/erd.svg", views.erd, name="table_erd"),
    path("<path:name>/", views.table, name="table"),
]
