"""The sentiment app's adapted base ("sentiment-base"): what a base is judged on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.mlops.adaptation import adapted_base_train
from apps.mlops.runtime import TrainingContext
from apps.sentiment.adaptation import ADAPTED_BASE, evaluation_params
from apps.sentiment.models import LabelledSet
from apps.sentiment.training import DEMO_DATA

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


def test_a_sentiment_base_is_adapted_from_a_model_the_classifier_trains_from(
    monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr("apps.mlops.adaptation.adapt", lambda *a, **k: pytest.fail("adapted"))
    ctx = TrainingContext(
        run_id=None, params={"base_model": "mpnet"}, workdir=tmp_path, log=lambda _line: None
    )

    # "auto" trains from MiniLM or the multilingual model; a 110M mpnet base would never serve.
    with pytest.raises(ValueError, match="serves from minilm, multilingual, not mpnet"):
        adapted_base_train(ADAPTED_BASE, ctx)
