from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("mlops", "0003_archive_metrics")]

    operations = [
        migrations.AddField(
            model_name="modelpolicy",
            name="form_tolerance",
            field=models.FloatField(
                default=0.01,
                help_text="How much accuracy a serving form (int8, ONNX...) may lose against "
                "fp32 on the held-out rows and still serve without being forced",
            ),
        ),
    ]
