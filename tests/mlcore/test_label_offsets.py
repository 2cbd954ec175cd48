"""Per-label log-probability offsets chosen on validation (`TrainConfig.label_offsets`)."""

import numpy as np
import pytest

from mlcore.classifier import OFFSET_MIN_GAIN, TextClassifier, _offsets_choose

LABELS = ["negative", "neutral", "positive"]


class _Fixed(TextClassifier):
    """A classifier whose head is a table: each text's probabilities are given."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__(None, None, LABELS)
        self.table = table

    def head_proba(self, texts, *, batch_size=64, pooled=False):  # type: ignore[no-untyped-def]
        rows = np.array([self.table[t] for t in texts], dtype=np.float32)
        return rows, np.zeros((0, 0), dtype=np.float32)


def _under_calls_positive() -> tuple[_Fixed, list[str], list[str]]:
    """Validation where every positive text sits just under neutral: 0.45 against 0.50."""
    table, texts, labels = {}, [], []
    for i in range(20):
        table[f"pos{i}"] = [0.05, 0.50, 0.45]
        table[f"neu{i}"] = [0.05, 0.80, 0.15]
        table[f"neg{i}"] = [0.80, 0.15, 0.05]
        table[f"neu-more{i}"] = [0.05, 0.90, 0.05]
        texts += [f"pos{i}", f"neu{i}", f"neg{i}", f"neu-more{i}"]
        labels += ["positive", "neutral", "negative", "neutral"]
    return _Fixed(table), texts, labels


def test_an_under_called_label_gets_an_offset_that_fixes_validation():
    classifier, texts, labels = _under_calls_positive()

    chosen = _offsets_choose(classifier, texts, labels)

    assert chosen["kept"] and chosen["offsets"]["positive"] > 0
    assert chosen["offsets"]["neutral"] == 0.0  # the most frequent label is the reference
    assert chosen["val_macro_f1_after"] == pytest.approx(1.0)
    preds = [p.label for p in classifier.predict(texts)]
    assert preds == labels
    np.testing.assert_allclose(classifier.predict_proba(texts).sum(axis=1), 1.0, rtol=1e-6)


def test_offsets_that_gain_nothing_on_validation_are_not_kept():
    table = {"a": [0.1, 0.8, 0.1], "b": [0.8, 0.1, 0.1], "c": [0.1, 0.1, 0.8]}
    classifier = _Fixed(table)

    chosen = _offsets_choose(classifier, ["a", "b", "c"], ["neutral", "negative", "positive"])

    assert not chosen["kept"] and classifier.label_offsets is None
    assert chosen["val_macro_f1_after"] - chosen["val_macro_f1_before"] < OFFSET_MIN_GAIN
    np.testing.assert_allclose(classifier.predict_proba(["a"]), [[0.1, 0.8, 0.1]], rtol=1e-6)


def test_offsets_scale_probabilities_and_keep_them_summing_to_one():
    classifier = _Fixed({"x": [0.2, 0.6, 0.2]})
    classifier.label_offsets = np.array([0.0, 0.0, np.log(3.0)], dtype=np.float32)

    (row,) = classifier.predict_proba(["x"])

    # 0.2, 0.6, 0.6 renormalised.
    np.testing.assert_allclose(row, [0.2 / 1.4, 0.6 / 1.4, 0.6 / 1.4], rtol=1e-5)
