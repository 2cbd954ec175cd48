from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sentiment", "0007_import_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="documententity",
            name="label",
            field=models.CharField(blank=True, max_length=10),
        ),
        migrations.AddField(
            model_name="documententity",
            name="positive",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="documententity",
            name="neutral",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="documententity",
            name="negative",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="documententity",
            name="value",
            field=models.FloatField(
                blank=True, help_text="positive minus negative probability, -1..1", null=True
            ),
        ),
        migrations.AddField(
            model_name="documententity",
            name="passages",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="the passages scored for this company ([]: the whole text)",
            ),
        ),
    ]
