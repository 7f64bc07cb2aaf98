"""The stock ModelAdmin the benchmark times: every column listed, 50 rows a page."""

from django.contrib import admin

from benchmarks.data_admin.models import BenchTask

LIST_DISPLAY = (
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "priority",
    "tags",
    "due_date",
    "recurrence",
    "created_at",
    "updated_at",
)


@admin.register(BenchTask)
class BenchTaskAdmin(admin.ModelAdmin):
    list_display = LIST_DISPLAY
    ordering = ("id",)
    list_per_page = 50
