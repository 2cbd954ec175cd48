"""The int8 serving form: derived from fp32, agreeing with it, served under either engine."""

import numpy as np
import pytest

from mlcore.classifier import TextClassifier, int8_form_save, serving_form_set

pytestmark = pytest.mark.slow


def test_save_load_and_int8_form_agree(trained):
    result, _, path = trained
    texts = ["Profit rose", "Losses widened"]

    loaded = TextClassifier.load(path, device="cpu")
    int8_form_save(path)
    serving_form_set(path, "int8")
    quantized = TextClassifier.load(path, device="cpu")

    assert quantized.serving == "int8"
    np.testing.assert_allclose(
        loaded.predict_proba(texts), result.classifier.predict_proba(texts), atol=1e-5
    )
    assert [p.label for p in quantized.predict(texts)] == [p.label for p in loaded.predict(texts)]


def test_int8_form_saved_under_one_engine_serves_under_another(trained, monkeypatch):
    import torch

    from mlcore.classifier import int8_engine_select

    _, _, path = trained
    texts = ["Profit rose", "Losses widened", "The meeting is in April"]
    engines = [e for e in ("fbgemm", "onednn") if e in torch.backends.quantized.supported_engines]
    if len(engines) < 2:
        pytest.fail(f"this torch build lacks an int8 engine: {engines}")
    before = torch.backends.quantized.engine
    try:
        monkeypatch.setenv("ML_INT8_ENGINE", engines[0])
        assert int8_engine_select() == engines[0]
        int8_form_save(path)
        first = TextClassifier.load(path, device="cpu", serving="int8").predict_proba(texts)
        monkeypatch.setenv("ML_INT8_ENGINE", engines[1])
        second = TextClassifier.load(path, device="cpu", serving="int8")
        assert torch.backends.quantized.engine == engines[1]
        np.testing.assert_allclose(second.predict_proba(texts), first, atol=0.05)
        monkeypatch.setenv("ML_INT8_ENGINE", "no-such-engine")  # ignored, not an error
        assert int8_engine_select() == engines[1]
    finally:
        torch.backends.quantized.engine = before
