"""The sentiment app's adapted bases (MiniLM's "sentiment-base", "sentiment-base-multilingual",
the teacher's "sentiment-base-mpnet"): what a base is judged on, and how."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from apps.mlops.adaptation import adapted_base_train
from apps.mlops.kinds import kind_list
from apps.mlops.runtime import TrainingContext
from apps.sentiment.adaptation import (
    ADAPTED_BASE,
    evaluation_params,
    judged_texts,
    training_texts,
)
from apps.sentiment.defaults import TEACHER_PARAMS
from apps.sentiment.models import LabelledSet
from apps.sentiment.training import DEMO_DATA, sentiment_fit

pytestmark = pytest.mark.django_db


def _production(monkeypatch: Any, params: dict[str, Any] | None) -> None:
    monkeypatch.setattr("apps.sentiment.adaptation.production_params", lambda _name: params)


@pytest.fixture
def ctx(tmp_path: Path) -> TrainingContext:
    return TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)


def test_without_a_production_model_a_base_is_judged_on_the_demo_set_and_every_set(
    monkeypatch: Any, ctx: TrainingContext
) -> None:
    _production(monkeypatch, None)

    params = evaluation_params(ctx)

    assert (params["data"], params["sets"]) == (str(DEMO_DATA), "all")
    assert params["distil_documents"] == "no"  # the labelled rows alone judge a base


def test_a_base_is_judged_on_the_labelled_data_production_trained_on(
    monkeypatch: Any, tmp_path: Path, ctx: TrainingContext
) -> None:
    data = tmp_path / "analysts.csv"
    data.write_text("sentence,label\nProfit rose.,positive\n")
    kept = LabelledSet.objects.create(name="Q3 wire")
    deleted = LabelledSet.objects.create(name="Old wire")
    LabelledSet.objects.create(name="Imported after production trained")
    deleted_id = deleted.pk
    used = [{"id": kept.pk, "name": kept.name}, {"id": deleted_id, "name": deleted.name}]
    # Trained with sets "all" before the third set came: what it used is what it recorded.
    _production(
        monkeypatch,
        {"data": str(data), "sets": "all", "training_data": {"sets": used}},
    )
    deleted.delete()

    params = evaluation_params(ctx)

    # Its file and the sets it used, less the one deleted since (which training would refuse).
    assert (params["data"], params["sets"]) == (str(data), [kept.pk])
    assert params["include_corrections"] is True  # the recipe's default when not recorded
    data.unlink()
    assert evaluation_params(ctx)["data"] == str(DEMO_DATA)  # the file went: the demo set
    _production(
        monkeypatch,
        {"data": str(data), "include_corrections": False, "training_data": {"sets": used[1:]}},
    )
    assert evaluation_params(ctx)["sets"] == "none"
    assert evaluation_params(ctx)["include_corrections"] is False


def test_each_model_the_app_trains_from_is_adapted_in_a_kind_of_its_own(
    monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr("apps.mlops.adaptation.adapt", lambda *a, **k: pytest.fail("adapted"))
    ctx = TrainingContext(
        run_id=None, params={"base_model": "mpnet"}, workdir=tmp_path, log=lambda _line: None
    )

    # "auto" trains the served model from MiniLM or the multilingual model, the distillation
    # teacher from mpnet: three kinds, each with a production version of its own.
    names = [kind.name for kind in kind_list() if kind.name.startswith("sentiment-base")]
    assert names == ["sentiment-base", "sentiment-base-mpnet", "sentiment-base-multilingual"]
    with pytest.raises(ValueError, match="adapted from mpnet are the kind sentiment-base-mpnet"):
        adapted_base_train(ADAPTED_BASE, "minilm", ctx)


class _Judged(Exception):
    """Raised by the stand-in fit with the recipe the evaluation's fine-tune trains with."""

    def __init__(self, config: Any) -> None:
        super().__init__("judged")
        self.config = config


@pytest.mark.parametrize("model", ["mpnet", "minilm"])
def test_an_mpnet_base_is_judged_as_the_teacher_it_becomes_with_the_teachers_recipe(
    monkeypatch: Any, tmp_path: Path, model: str
) -> None:
    # A stand-in for the 400 MB mpnet packages, which CI does not install.
    monkeypatch.setattr("apps.mlops.adaptation.base_model_resolve", lambda _name: tmp_path)
    monkeypatch.setattr("apps.mlops.adaptation.adapt", lambda *a, **k: pytest.fail("adapted"))

    def fit(*_args: Any, config: Any, **_kwargs: Any) -> Any:
        raise _Judged(config)

    monkeypatch.setattr("mlcore.classifier.fit", fit)
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    spec = replace(ADAPTED_BASE, texts=lambda: [f"Firm {i} sold {i} units." for i in range(30)])

    # The one-step trial of the evaluation, before any adaptation, trains with the recipe.
    with pytest.raises(_Judged) as judged:
        adapted_base_train(spec, model, ctx)

    recipe = {name: getattr(judged.value.config, name) for name in TEACHER_PARAMS}
    assert (recipe == TEACHER_PARAMS) is (model == "mpnet")
    assert judged.value.config.max_steps == 1


class _Validated(Exception):
    """Raised by the stand-in fit with the rows the evaluation's fine-tune validates on."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__("validated")
        self.texts = texts


@pytest.fixture
def analysts(monkeypatch: Any, tmp_path: Path) -> list[str]:
    """Production trained on a file of 60 sentences, 20 a label: its sentences."""
    data = tmp_path / "analysts.csv"
    sentences = {
        label: [f"Firm {i} reported a {label} quarter." for i in range(20)]
        for label in ("positive", "negative", "neutral")
    }
    rows = [f"{text},{label}" for label, texts in sentences.items() for text in texts]
    data.write_text("sentence,label\n" + "\n".join(rows) + "\n")
    _production(monkeypatch, {"data": str(data), "training_data": {"sets": []}})
    return [text for texts in sentences.values() for text in texts]


def test_the_sentences_a_base_is_judged_on_are_the_evaluations_validation_rows(
    monkeypatch: Any, tmp_path: Path, ctx: TrainingContext, analysts: list[str]
) -> None:
    def fit(*_args: Any, val_texts: list[str], **_kwargs: Any) -> Any:
        raise _Validated(val_texts)

    monkeypatch.setattr("mlcore.classifier.fit", fit)
    with pytest.raises(_Validated) as validated:
        sentiment_fit(ctx, evaluation_params(ctx), base=tmp_path)

    judged = judged_texts()
    assert sorted(judged) == sorted(validated.value.texts) and len(judged) == 9
    # Task-adaptive pretraining reads production's own file, not the demo set; the judged
    # sentences among them are left out by the run (apps/mlops/adaptation_corpus.py).
    assert sorted(training_texts()) == sorted(analysts)


def test_task_adaptive_pretraining_adapts_to_the_training_sentences_less_the_judged_ones(
    monkeypatch: Any, tmp_path: Path, analysts: list[str]
) -> None:
    adapted: list[str] = []

    def adapt(texts: list[str], **_kwargs: Any) -> Any:
        adapted.extend(texts)
        raise RuntimeError("adapted")

    monkeypatch.setattr("apps.mlops.adaptation.adapt", adapt)
    spec = replace(ADAPTED_BASE, score=lambda _base, _ctx, _steps: {"macro_f1": 0.5})
    ctx = TrainingContext(
        run_id=None, params={"method": "tapt"}, workdir=tmp_path, log=lambda _line: None
    )

    with pytest.raises(RuntimeError, match="adapted"):
        adapted_base_train(spec, "minilm", ctx)

    assert sorted(adapted) == sorted(set(analysts) - set(judged_texts())) and len(adapted) == 51
