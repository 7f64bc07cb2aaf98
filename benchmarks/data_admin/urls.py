"""The console's URLs plus the Django admin (benchmarks only)."""

from django.contrib import admin
from django.urls import path

from dashboard.urls import urlpatterns as console_urlpatterns

urlpatterns = [*console_urlpatterns, path("admin/", admin.site.urls)]
