"""Ensembles: members trained, saved, loaded and quantized as one model."""

import numpy as np
import pytest

from mlcore.classifier import TextClassifier, TrainConfig, fit, int8_form_save
from mlcore.heads import HEAD_FILE

from .sentences import NEGATIVE, POSITIVE

pytestmark = pytest.mark.slow


def test_two_member_ensemble_trains_saves_loads_and_quantizes(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    events = []
    config = TrainConfig(
        epochs=2, batch_size=8, val_fraction=0.2, head_init="centroids", ensemble=2, neighbours_k=3
    )

    result = fit(texts, labels, config=config, device="cpu", progress=events.append)
    path = result.classifier.save(tmp_path / "ensemble")
    loaded = TextClassifier.load(path, device="cpu")
    int8_form_save(path)
    quantized = TextClassifier.load(path, device="cpu", serving="int8")

    assert [m["seed"] for m in result.metrics["members"]] == [42, 43]
    assert (path / "member_0" / HEAD_FILE).exists() and (path / "member_1" / HEAD_FILE).exists()
    steps = [e.step for e in events if e.phase == "step"]
    assert steps == sorted(steps) and steps[-1] == events[-1].total_steps  # one run, not two
    probe = ["Quarterly profit soared", "Heavy losses and job cuts"]
    assert [p.label for p in loaded.predict(probe)] == ["positive", "negative"]
    np.testing.assert_allclose(
        loaded.predict_proba(probe), result.classifier.predict_proba(probe), atol=1e-5
    )
    assert [p.label for p in quantized.predict(probe)] == ["positive", "negative"]
