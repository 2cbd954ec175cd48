"""The int8 serving form: derived from fp32, agreeing with it, served under either engine,
guarded where int8 changes the validation labels."""

import json
import shutil

import numpy as np
import pytest
import torch

from mlcore.classifier import (
    QUANTIZED_FILE,
    TextClassifier,
    int8_form_save,
    quantization,
    serving_form_set,
)
from mlcore.classifier.quantization import ffn_out_names

from .sentences import NEGATIVE, POSITIVE

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


def _labels(classifier, texts):
    return [p.label for p in classifier.predict(texts)]


def _int8_linears(model):
    return {
        n for n, m in model.named_modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)
    }


def test_the_feed_forward_output_projections_are_found_one_per_layer(trained):
    _, _, path = trained
    model = TextClassifier.load(path, device="cpu", serving="fp32").model
    linears = dict((n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear))

    config = model.encoder.config  # the mean-pooling head's encoder

    names = ffn_out_names(model)

    assert len(names) == config.num_hidden_layers  # MiniLM: one per layer
    for name in names:  # each narrows the feed-forward's inner width back to the hidden size
        assert linears[name].in_features == config.intermediate_size
        assert linears[name].out_features == config.hidden_size


def test_the_int8_record_says_how_many_validation_labels_the_served_form_keeps(trained, tmp_path):
    _, _, trained_path = trained
    path = shutil.copytree(trained_path, tmp_path / "model")
    texts = POSITIVE + NEGATIVE

    int8_form_save(path, calibration_texts=texts)
    record = json.loads((path / QUANTIZED_FILE).read_text())
    fp32 = _labels(TextClassifier.load(path, device="cpu", serving="fp32"), texts)
    int8 = _labels(TextClassifier.load(path, device="cpu", serving="int8"), texts)

    kept = sum(a == b for a, b in zip(fp32, int8)) / len(texts)
    assert record["label_agreement"] == pytest.approx(kept, abs=1e-4)
    # Every layer is int8 only where that form kept enough of the labels.
    assert record["keep_fp32"] or kept >= quantization.MIN_AGREEMENT


def test_int8_keeps_the_feed_forward_outputs_fp32_when_labels_change(
    trained, tmp_path, monkeypatch
):
    _, _, trained_path = trained
    path = shutil.copytree(trained_path, tmp_path / "model")
    texts = POSITIVE + NEGATIVE
    fp32 = TextClassifier.load(path, device="cpu", serving="fp32")
    every = _int8_linears(quantization.quantize_dynamic(fp32.model))

    # Stands for a model whose every-layer int8 changes too many labels (mpnet): no share of
    # labels reaches the bar. Quantisation, the labels and the choice of layers are real.
    monkeypatch.setattr(quantization, "MIN_AGREEMENT", 1.01)
    int8_form_save(path, calibration_texts=texts)
    record = json.loads((path / QUANTIZED_FILE).read_text())
    served = TextClassifier.load(path, device="cpu", serving="int8")

    assert record["keep_fp32"] == ffn_out_names(fp32.model) and record["keep_fp32"]
    assert _int8_linears(served.model) == every - set(record["keep_fp32"])
    for name in record["keep_fp32"]:
        assert type(served.model.get_submodule(name)) is torch.nn.Linear
    same = sum(a == b for a, b in zip(_labels(fp32, texts), _labels(served, texts)))
    assert record["label_agreement"] == pytest.approx(same / len(texts), abs=1e-4)


def test_an_int8_form_saved_without_texts_quantises_every_linear_layer(trained, tmp_path):
    _, _, trained_path = trained
    path = shutil.copytree(trained_path, tmp_path / "model")

    int8_form_save(path)
    record = json.loads((path / QUANTIZED_FILE).read_text())
    served = TextClassifier.load(path, device="cpu", serving="int8")

    assert record["keep_fp32"] == [] and record["label_agreement"] is None
    assert _int8_linears(served.model)
    assert not any(type(m) is torch.nn.Linear for _, m in served.model.named_modules())
