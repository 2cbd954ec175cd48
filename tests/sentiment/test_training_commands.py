"""The sentiment_train and sentiment_evaluate commands: bad arguments refused before training, and
evaluation of a model that does not know every label."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def test_train_refuses_promote_together_with_no_promote(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.sentiment.management.commands import sentiment_train

    runs: list[dict[str, object]] = []
    monkeypatch.setattr(sentiment_train, "version_train_and_register", lambda **kw: runs.append(kw))

    with pytest.raises(CommandError, match="not allowed with"):
        call_command("sentiment_train", "--promote", "--no-promote", stdout=StringIO())

    assert runs == []  # nothing trained, nothing registered


def test_train_refuses_zero_epochs_or_batch_size_before_training(  # type: ignore[no-untyped-def]
    db, model_dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcore.classifier
    from apps.mlops.models import ModelVersion

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fine-tuning started")

    monkeypatch.setattr(mlcore.classifier, "fit", no_fit)

    with pytest.raises(CommandError, match="epochs: must be at least 1, got 0"):
        call_command("sentiment_train", "--epochs", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="batch_size: must be at least 1, got 0"):
        call_command("sentiment_train", "--batch-size", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="learning_rate: must be greater than 0"):
        call_command("sentiment_train", "--learning-rate=-1e-4", stdout=StringIO())
    assert not ModelVersion.objects.filter(name="sentiment").exists()


class _TwoClassModel:
    """A served model that only knows negative and positive (trained on a two-class file)."""

    labels = ["negative", "positive"]

    def predict(self, texts: list[str]) -> list[object]:
        from mlcore.types import Prediction

        return [
            Prediction("negative" if "fell" in t else "positive", {"negative": 0.5}) for t in texts
        ]


def test_evaluate_counts_rows_of_a_label_the_model_does_not_know_as_errors(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from apps.sentiment.management.commands import sentiment_evaluate

    monkeypatch.setattr(sentiment_evaluate, "model_available", lambda name: True)
    monkeypatch.setattr(sentiment_evaluate, "model_load", lambda name: _TwoClassModel())
    monkeypatch.setattr(
        sentiment_evaluate, "registry", lambda: type("R", (), {"loaded_version": lambda s, n: 3})()
    )
    data = tmp_path / "eval.csv"
    data.write_text(
        "\ufeffsentence,label,all_agree\n"
        "Sales fell,negative,yes\nProfit fell,negative,yes\n"
        "Sales rose,positive,yes\nProfit rose,positive,no\n"
        "The meeting is in May,neutral,yes\nThe office moved,neutral,no\n"
    )
    out = StringIO()

    call_command("sentiment_evaluate", "--data", str(data), stdout=out)

    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["n"] == 6
    assert summary["accuracy"] == round(4 / 6, 4)  # the neutral rows are wrong, not left out
    assert summary["all_agree_accuracy"] == 0.75
    assert "neutral" in out.getvalue()
