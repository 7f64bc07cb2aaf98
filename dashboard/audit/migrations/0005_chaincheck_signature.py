from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_keyset_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="chaincheck",
            name="signature",
            field=models.CharField(blank=True, db_default="", editable=False, max_length=64),
        ),
    ]
