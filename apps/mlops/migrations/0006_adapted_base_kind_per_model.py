"""Each base model's adapted bases have a kind of their own (`<app>-base-<model>` beside MiniLM's
`<app>-base`): a retrain schedule kept on `<app>-base` for another model moves to that model's
kind, where its parameters are valid again (on `<app>-base` they name a model it no longer
takes). A schedule already on the new kind wins; the old one is then disabled, not deleted."""

from __future__ import annotations

from typing import Any

from django.db import migrations

MINILM = "minilm"


def schedules_move(apps: Any, _schema_editor: Any) -> None:
    schedules = apps.get_model("mlops", "RetrainSchedule")
    for schedule in schedules.objects.filter(name__endswith="-base"):
        model = str((schedule.params or {}).get("base_model") or MINILM)
        if model == MINILM:
            continue
        target = f"{schedule.name}-{model}"
        if schedules.objects.filter(name=target).exists():
            schedule.enabled = False
        else:
            schedule.name = target
        schedule.save(update_fields=["name", "enabled"])


def _backward(apps: Any, _schema_editor: Any) -> None:
    return None  # the moved schedules stay valid where they are


class Migration(migrations.Migration):
    dependencies = [("mlops", "0005_corpus")]

    operations = [migrations.RunPython(schedules_move, _backward)]
