from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="trialrun",
            name="outcome",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="trialrun",
            name="round_trip_comparison",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
