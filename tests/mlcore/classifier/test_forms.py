"""The classifier's ONNX serving forms: exported from the fp32 weights, agreeing with torch,
chosen by 'auto' from the measured record."""

import collections

import numpy as np
import pytest

from mlcore.classifier import TextClassifier, form_file
from mlcore.classifier.forms import (
    EXPORTED,
    classifier_fastest_form,
    classifier_forms_export,
    classifier_forms_measure,
)
from mlcore.serving.choice import (
    FP32,
    ONNX_FP32,
    ONNX_INT8,
    ONNX_INT8_STATIC,
    FormMeasure,
    forms_record_write,
)

from .sentences import NEGATIVE, POSITIVE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(trained):
    _, _, path = trained
    files = classifier_forms_export(path, calibration_texts=POSITIVE + NEGATIVE)
    return path, files


def test_every_onnx_form_is_exported_next_to_the_weights(exported):
    path, files = exported

    assert set(files) == set(EXPORTED)
    for form in EXPORTED:
        assert files[form] == form_file(path, form) and files[form].stat().st_size > 1_000_000
    # int8 weights take less room than fp32 ones. How much less depends on the CPU: where more
    # than 2% of the validation labels change (as on an AVX2-only CPU, whose int8 kernels lose
    # more precision), the guard keeps the feed-forward output projections in fp32.
    assert files[ONNX_INT8].stat().st_size < 0.9 * files[ONNX_FP32].stat().st_size


def test_onnx_fp32_gives_torch_fp32_probabilities_and_sentence_vectors(exported):
    path, _ = exported
    texts = ["Profit rose sharply this quarter", "Losses widened", "a", "The meeting is in April"]
    torch_fp32 = TextClassifier.load(path, device="cpu", serving=FP32)
    onnx_fp32 = TextClassifier.load(path, device="cpu", serving=ONNX_FP32)

    torch_probs, torch_vectors = torch_fp32.head_proba(texts, pooled=True)
    onnx_probs, onnx_vectors = onnx_fp32.head_proba(texts, pooled=True)

    assert onnx_fp32.serving == ONNX_FP32 and onnx_fp32.labels == torch_fp32.labels
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-4)


@pytest.mark.parametrize("form", [ONNX_INT8, ONNX_INT8_STATIC])
def test_int8_forms_predict_the_labels_fp32_predicts(exported, form):
    path, _ = exported
    texts = POSITIVE[:4] + NEGATIVE[:4]
    fp32 = TextClassifier.load(path, device="cpu", serving=FP32)
    int8 = TextClassifier.load(path, device="cpu", serving=form)

    agree = [a.label == b.label for a, b in zip(int8.predict(texts), fp32.predict(texts))]

    assert sum(agree) >= 7
    np.testing.assert_allclose(int8.predict_proba(texts).sum(axis=1), 1.0, atol=1e-5)


def test_measures_cover_every_form_on_the_same_rows(exported):
    path, _ = exported
    texts = POSITIVE[:3] + NEGATIVE[:3]
    labels = ["positive"] * 3 + ["negative"] * 3

    measures = classifier_forms_measure(path, texts, labels, rounds=1)

    assert [m.form for m in measures][:2] == ["fp32", "int8"]
    assert {m.form for m in measures} >= set(EXPORTED)
    assert all(0 <= m.score <= 1 and m.texts_per_s > 0 for m in measures)
    assert all(m.file_bytes > 0 for m in measures if m.form in EXPORTED)


def test_auto_serves_the_fastest_form_within_tolerance_from_the_record(exported, tmp_path):
    import shutil

    path, _ = exported
    copy = shutil.copytree(path, tmp_path / "model")
    measures = [
        FormMeasure(FP32, "cpu", 0.90, 100.0),
        FormMeasure(ONNX_INT8, "cpu", 0.85, 900.0),  # fastest, but 5 points worse
        FormMeasure(ONNX_INT8_STATIC, "cpu", 0.895, 500.0),
    ]
    forms_record_write(copy, measures, baseline=0.90, tolerance=0.01)

    served = TextClassifier.load(copy, device="cpu", serving="auto")

    assert served.serving == ONNX_INT8_STATIC


def test_bulk_work_gets_the_fastest_form_within_tolerance_on_the_rows_given(trained, tmp_path):
    import shutil

    _, _, path = trained
    copy = shutil.copytree(path, tmp_path / "bare", ignore=shutil.ignore_patterns("forms"))
    texts = POSITIVE + NEGATIVE
    labels = ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE)

    served, measures = classifier_fastest_form(copy, texts, labels)

    assert {m.form for m in measures} >= {FP32, "int8", *EXPORTED}  # the forms were exported
    baseline = measures[0].score
    allowed = [m for m in measures if m.device == "cpu" and m.score >= baseline - 0.01]
    assert served.serving == max(allowed, key=lambda m: m.texts_per_s).form
    predicted = [p.label for p in served.predict(texts)]
    assert sum(p == t for p, t in zip(predicted, labels)) >= len(texts) - 2


def test_bulk_work_falls_back_to_fp32_when_every_form_is_refused(trained, tmp_path):
    import shutil

    _, _, path = trained
    copy = shutil.copytree(path, tmp_path / "model")
    texts = POSITIVE[:4] + NEGATIVE[:4]

    served, _ = classifier_fastest_form(
        copy, texts, ["positive"] * 4 + ["negative"] * 4, tolerance=-1.0
    )

    assert served.serving == FP32


def test_a_missing_onnx_form_is_refused_with_a_message(trained, tmp_path):
    import shutil

    _, _, path = trained
    copy = shutil.copytree(path, tmp_path / "bare", ignore=shutil.ignore_patterns("forms"))

    with pytest.raises(ValueError, match="has no onnx-int8 form"):
        TextClassifier.load(copy, device="cpu", serving=ONNX_INT8)


def test_fp16_serves_on_cuda_only(trained):
    _, _, path = trained

    with pytest.raises(ValueError, match="fp16 form serves on CUDA only"):
        TextClassifier.load(path, device="cpu", serving="fp16")


def test_the_export_fuses_each_layers_attention_layernorm_and_gelu(exported):
    import onnx

    _, files = exported
    ops = collections.Counter(n.op_type for n in onnx.load(str(files["onnx-fp32"])).graph.node)

    layers = ops["BiasGelu"]
    assert layers >= 1 and ops["Attention"] == layers  # one fused attention per layer
    assert ops["SkipLayerNormalization"] == 2 * layers
    assert ops["Softmax"] == 0  # the attention's softmax is inside the fused node


def test_matmuls_are_told_apart_by_role_one_feed_forward_output_per_layer(exported):
    from mlcore.serving.quantise import matmul_roles

    _, files = exported
    roles = matmul_roles(files["onnx-fp32"])

    layers = max(layer for _, role, layer in roles if role == "ffn_out") + 1
    counts = collections.Counter(role for _, role, _ in roles)
    assert counts["ffn_out"] == layers and counts["attention_out"] == layers
    # Query, key and value and the attention products are inside the fused Attention nodes.
    assert counts["in"] == layers  # the feed-forward input
    assert counts["activations"] == 0


def test_bf16_serves_on_the_cpu_with_fp32s_labels_and_is_measured_where_native(
    trained, monkeypatch
):
    from mlcore.classifier import forms

    _, _, path = trained
    texts = POSITIVE[:4] + NEGATIVE[:4]
    fp32 = TextClassifier.load(path, device="cpu", serving=FP32)
    bf16 = TextClassifier.load(path, device="cpu", serving="bf16")

    np.testing.assert_allclose(bf16.predict_proba(texts), fp32.predict_proba(texts), atol=0.05)
    assert bf16.serving == "bf16" and bf16.device == "cpu"
    monkeypatch.setattr(forms, "cpu_bf16_native", lambda: True)
    assert "bf16" in forms.cpu_torch_forms()
    monkeypatch.setattr(forms, "cpu_bf16_native", lambda: False)
    assert forms.cpu_torch_forms() == []


@pytest.mark.parametrize("kind", ["dynamic", "static"])
def test_int8_keeps_the_sensitive_matmuls_fp32_only_when_labels_change(
    exported, tmp_path, monkeypatch, kind
):
    from mlcore.classifier.model import TextClassifier
    from mlcore.serving import quantise

    path, files = exported
    clf = TextClassifier.load(path, device="cpu")
    feeds = quantise.calibration_batches(
        clf.tokenizer, POSITIVE + NEGATIVE, max_length=clf.max_length
    )
    fp32 = files["onnx-fp32"]
    roles = {name: role for name, role, _ in quantise.matmul_roles(fp32)}

    # The agreement measurement is replaced to stand for a faithful int8 model (MiniLM) and for
    # one int8 breaks (mpnet); quantisation and the choice of nodes are real.
    monkeypatch.setattr(quantise, "label_agreement", lambda *_: 1.0)
    _, kept_when_faithful = quantise.int8_guarded(kind, fp32, tmp_path / "a.onnx", feeds)
    monkeypatch.setattr(quantise, "label_agreement", lambda *_: 0.5)
    out, kept = quantise.int8_guarded(kind, fp32, tmp_path / "b.onnx", feeds)

    assert kept_when_faithful == []
    # In the fused export the attention products are inside the Attention nodes (never int8),
    # so both kinds keep exactly the feed-forward output projections.
    assert {roles[n] for n in kept} == {"ffn_out"} and out.is_file()


def test_label_agreement_counts_changed_labels(exported):
    from mlcore.classifier.model import TextClassifier
    from mlcore.serving.quantise import calibration_batches, label_agreement

    path, files = exported
    clf = TextClassifier.load(path, device="cpu")
    feeds = calibration_batches(clf.tokenizer, POSITIVE + NEGATIVE, max_length=clf.max_length)

    assert label_agreement(files["onnx-fp32"], files["onnx-fp32"], feeds) == 1.0
    assert label_agreement(files["onnx-fp32"], files["onnx-fp32"], []) == 1.0


def test_int8_takes_the_query_key_value_projections_out_of_the_fused_attention(exported, tmp_path):
    import onnx
    import onnxruntime as ort

    from mlcore.classifier.model import TextClassifier
    from mlcore.serving.quantise import attention_unpacked, calibration_batches

    path, files = exported
    clf = TextClassifier.load(path, device="cpu")
    texts = ["Profit rose", "Operating losses widened sharply in the third quarter of the year"]
    feeds = calibration_batches(clf.tokenizer, texts, max_length=clf.max_length)  # padded

    unpacked = attention_unpacked(files[ONNX_FP32], tmp_path / "unpacked.onnx")

    def op_types(file):
        return collections.Counter(n.op_type for n in onnx.load(str(file)).graph.node)

    fused, taken_out = op_types(files[ONNX_FP32]), op_types(unpacked)
    assert fused["Attention"] > 0
    assert taken_out["Attention"] == 0 and taken_out["MultiHeadAttention"] == fused["Attention"]
    assert taken_out["MatMul"] == fused["MatMul"] + fused["Attention"]  # one packed projection
    sessions = [
        ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
        for f in (files[ONNX_FP32], unpacked)
    ]
    for feed in feeds:  # the same function, padding included
        before, after = (s.run(["logits"], feed)[0] for s in sessions)
        np.testing.assert_allclose(after, before, atol=1e-4)
    # A graph with nothing left to take apart is read as it is, not copied.
    assert attention_unpacked(unpacked, tmp_path / "again.onnx") == unpacked
    assert not (tmp_path / "again.onnx").exists()
    # The int8 forms hold the projections in int8.
    int8 = onnx.load(str(files[ONNX_INT8])).graph.node
    assert not any(n.op_type == "Attention" for n in int8)
    assert any(n.op_type == "MatMulInteger" and "_qkv_MatMul" in n.name for n in int8)
