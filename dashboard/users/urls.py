from django.urls import path

from dashboard.users import views

app_name = "users"

urlpatterns = [
    path("", views.find, name="find"),
    path("reason/", views.reason, name="reason"),
    path("ownership/", views.ownership, name="ownership"),
    path("isolation/", views.isolation, name="isolation"),
    path("u/<anything:subject>/", views.detail, name="detail"),
    path("export/<anything:subject>/", views.export, name="export"),
    path("forget/<anything:subject>/", views.forget, name="forget"),
]
