import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_owner_and_chain")]

    operations = [
        migrations.CreateModel(
            name="ChainCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("checked_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("full", models.BooleanField(default=False)),
                ("through_id", models.BigIntegerField(null=True)),
                ("through_hash", models.CharField(blank=True, max_length=64)),
                ("events", models.BigIntegerField(default=0)),
                ("broken_id", models.BigIntegerField(null=True)),
                ("problem", models.TextField(blank=True)),
            ],
            options={
                "indexes": [models.Index(fields=["through_id"], name="audit_check_through")],
            },
        ),
    ]
