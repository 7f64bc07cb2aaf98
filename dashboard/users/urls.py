from django.urls import path

from dashboard.changes import views as changes
from dashboard.users import compare_views, views

app_name = "users"

urlpatterns = [
    path("", views.find, name="find"),
    path("reason/", views.reason, name="reason"),
    path("ownership/", views.ownership, name="ownership"),
    path("isolation/", views.isolation, name="isolation"),
    # Before `u/<anything:subject>/`, which would take the rest of the path as the subject.
    path("u/<anything:subject>/compare/", compare_views.compare_page, name="compare"),
    path("u/<anything:subject>/compare/as-of/", compare_views.compare_as_of, name="compare_as_of"),
    path(
        "u/<anything:subject>/compare/done/",
        compare_views.compare_discard,
        name="compare_discard",
    ),
    path("u/<anything:subject>/compare/restore/", changes.restore, name="restore"),
    path("u/<anything:subject>/rows/<segment:table>/edit/", changes.edit_row, name="row_edit"),
    path("u/<anything:subject>/rows/<segment:table>/add/", changes.add_row, name="row_add"),
    path(
        "u/<anything:subject>/rows/<segment:table>/delete/", changes.delete_row, name="row_delete"
    ),
    path("u/<anything:subject>/", views.detail, name="detail"),
    path("export/<anything:subject>/", views.export, name="export"),
    path("forget/<anything:subject>/", views.forget, name="forget"),
]
