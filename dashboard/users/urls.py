from django.urls import path

from dashboard.users import views

app_name = "users"

urlpatterns = [
    path("", views.find, name="find"),
    path("reason/", views.reason, name="reason"),
    path("ownership/", views.ownership, name="ownership"),
    path("isolation/", views.isolation, name="isolation"),
    path("u/<path:subject>/", views.detail, name="detail"),
    path("export/<path:subject>/", views.export, name="export"),
    path("forget/<path:subject>/", views.forget, name="forget"),
]
