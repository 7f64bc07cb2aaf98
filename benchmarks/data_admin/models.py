"""An unmanaged model of the application's `tasks` table (read through the `bench` alias)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class BenchTask(models.Model):
    id = models.BigAutoField(primary_key=True)
    user_id = models.TextField()
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, null=True)  # noqa: DJ001  (as in the table)
    completed = models.BooleanField()
    priority = models.CharField(max_length=10)
    tags = ArrayField(models.TextField())
    due_date = models.DateTimeField(null=True)
    recurrence = models.TextField(null=True)  # noqa: DJ001  (as in the table)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "tasks"

    def __str__(self) -> str:
        return f"task {self.pk}"
