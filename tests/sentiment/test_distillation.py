"""Sentiment training over unlabelled text: a teacher labels it with probabilities and the model
learns them beside the labelled set; a production adapted base is what training starts from."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.mlops import services
from apps.mlops.models import ModelVersion
from mlcore.serving.choice import FORMS
from tests.adapted_base import adapted_base_promoted

pytestmark = pytest.mark.django_db


def test_an_unreadable_unlabelled_file_is_refused_and_nothing_is_registered(
    model_dirs: Path,
) -> None:
    with pytest.raises(CommandError, match="cannot read the unlabelled texts"):
        call_command(
            "sentiment_train", "--unlabelled", str(model_dirs / "missing.txt"),
            "--max-steps", "1", "--no-promote", stdout=StringIO(),
        )  # fmt: skip
    assert not ModelVersion.objects.filter(name="sentiment").exists()


def test_an_unknown_teacher_base_is_refused_before_training(model_dirs: Path) -> None:
    with pytest.raises(CommandError, match="unknown choice 'bert'"):
        call_command("sentiment_train", "--teacher-base", "bert", stdout=StringIO())
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_distillation_trains_on_the_teachers_view_of_the_unlabelled_texts(
    model_dirs: Path,
) -> None:
    unlabelled = model_dirs / "news.txt"
    texts = [f"Company {i} said its order book {'grew' if i % 2 else 'shrank'}." for i in range(40)]
    unlabelled.write_text("\n".join(texts + texts[:5]))  # repeats are read once
    out = StringIO()

    call_command(
        "sentiment_train", "--unlabelled", str(unlabelled), "--teacher-base", "minilm",
        "--max-steps", "2", "--no-promote", stdout=out,
    )  # fmt: skip

    version = ModelVersion.objects.get(name="sentiment")
    distillation = version.metrics["distillation"]
    assert distillation["unlabelled"] == 40
    assert distillation["teacher"] == "minilm"
    assert 0.0 <= distillation["teacher_accuracy"] <= 1.0
    # The teacher labels in its fastest form within tolerance, measured on validation rows.
    assert distillation["teacher_form"] in FORMS
    assert f"teacher labels in {distillation['teacher_form']} (measured on validation" in (
        out.getvalue()
    )
    labelled_train = version.data_size - version.metrics["val_size"]
    assert version.metrics["train_size"] == labelled_train + 40
    assert "teacher labels 40 unlabelled texts" in out.getvalue()


@pytest.mark.slow
def test_training_starts_from_the_production_adapted_base(
    model_dirs: Path, django_capture_on_commit_callbacks: object
) -> None:
    adapted = adapted_base_promoted(
        "sentiment-base",
        model_dirs,
        {"gain": 0.01, "app_metric": "macro_f1", "macro_f1": 0.71},
        django_capture_on_commit_callbacks,
    )
    out = StringIO()

    call_command("sentiment_train", "--max-steps", "1", "--no-promote", stdout=out)

    expected = services.registry().artifact_path("sentiment-base", adapted.version)
    assert ModelVersion.objects.get(name="sentiment").base_model == str(expected)
    assert f"base model: the production adapted base ({expected})" in out.getvalue()
