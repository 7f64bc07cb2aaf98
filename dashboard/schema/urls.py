"""URLs of the Schema section.

Table pages end with a slash and the other pages do not, so no table name (even "diagram" or
"erd.svg") can collide with them; `anything:` lets a name contain a slash or a line break.
"""

from django.urls import path

from dashboard.schema import views

app_name = "schema"

urlpatterns = [
    path("", views.tables, name="tables"),
    path("diagram", views.diagram, name="diagram"),
    path("erd.svg", views.erd, name="erd"),
    path("<anything:name>/erd.svg", views.erd, name="table_erd"),
    path("<anything:name>/", views.table, name="table"),
]
