from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles")]

    operations = [
        migrations.CreateModel(
            name="LoginThrottle",
            fields=[
                ("key", models.CharField(max_length=80, primary_key=True, serialize=False)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("window_start", models.DateTimeField()),
                ("locked_until", models.DateTimeField(null=True)),
            ],
            options={
                "indexes": [models.Index(fields=["window_start"], name="accounts_throttle_window")],
            },
        ),
    ]
