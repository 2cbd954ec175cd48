"""A saved classifier's serving forms: exported next to its weights, measured on held-out rows.

<path>/forms/onnx-fp32.onnx   ONNX Runtime fp32
<path>/forms/onnx-int8.onnx   dynamic int8 (per-channel weights)
<path>/forms/onnx-int8s.onnx  static int8 (QDQ), calibrated on the version's validation texts
<path>/int8.json              torch's dynamic int8, rebuilt from the fp32 weights at each load:
                              its size, the layers it keeps fp32 and the labels it keeps

Every int8 form is guarded on the validation texts: where it changes more than 2% of their
labels, the feed-forward output projections stay fp32.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..metrics import classification_report
from ..serving.choice import (
    BF16,
    DEFAULT_TOLERANCE,
    FP16,
    FP32,
    ONNX_FP32,
    ONNX_INT8,
    ONNX_INT8_STATIC,
    TORCH_INT8,
    FormMeasure,
    form_fastest,
    single_rate,
)
from ..serving.device import cpu_bf16_native, cuda_available
from ..serving.onnx_export import encoder_export
from ..serving.quantise import calibration_batches, int8_guarded
from .model import TextClassifier, form_file
from .quantization import QUANTIZED_FILE, quantize_dynamic, quantize_guarded

EXPORTED = (ONNX_FP32, ONNX_INT8, ONNX_INT8_STATIC)
# Validation texts the int8 forms are calibrated and guarded on, at most.
CALIBRATION_TEXTS = 512


def cpu_torch_forms() -> list[str]:
    """The CPU forms torch serves from the fp32 weights beyond fp32 and int8: bf16 where the
    CPU has native bf16."""
    return [BF16] if cpu_bf16_native() else []


def classifier_forms_export(
    path: str | Path, *, calibration_texts: Sequence[str], forms: Sequence[str] = EXPORTED
) -> dict[str, Path]:
    """Export the ONNX forms of the fp32 classifier saved at `path`, and derive its torch int8
    form; {form: file}. Each int8 form is guarded on the calibration texts."""
    path = Path(path)
    fp32 = TextClassifier.load(path, device="cpu", serving=FP32)
    _int8_record_write(path, fp32, calibration_texts)
    onnx_fp32 = encoder_export(
        fp32.model, fp32.tokenizer, form_file(path, ONNX_FP32), kind="classifier"
    )
    files = {ONNX_FP32: onnx_fp32}
    feeds = calibration_batches(
        fp32.tokenizer, list(calibration_texts)[:CALIBRATION_TEXTS], max_length=fp32.max_length
    )
    if ONNX_INT8 in forms:  # checked against fp32 on the validation texts (int8_guarded)
        files[ONNX_INT8], _ = int8_guarded("dynamic", onnx_fp32, form_file(path, ONNX_INT8), feeds)
    if ONNX_INT8_STATIC in forms:
        files[ONNX_INT8_STATIC], _ = int8_guarded(
            "static", onnx_fp32, form_file(path, ONNX_INT8_STATIC), feeds
        )
    if ONNX_FP32 not in forms:
        files.pop(ONNX_FP32)
    return files


def int8_form_save(path: str | Path, *, calibration_texts: Sequence[str] = ()) -> Path:
    """Derive the dynamic-int8 form of a saved fp32 classifier and record it (`QUANTIZED_FILE`).

    With `calibration_texts` (the version's validation texts) the form is guarded: where int8
    changes more than 2% of their labels, the feed-forward output projections stay fp32
    (`quantize_guarded`). The record holds the size of the int8 weights, the layers kept fp32
    and the share of labels kept; the weights themselves are rebuilt from the fp32 safetensors
    whenever the int8 form is loaded.
    """
    path = Path(path)
    return _int8_record_write(
        path, TextClassifier.load(path, device="cpu", serving=FP32), calibration_texts
    )


def _int8_record_write(path: Path, fp32: TextClassifier, calibration_texts: Sequence[str]) -> Path:
    """`int8_form_save` for the fp32 classifier already loaded from `path`."""
    # heavy: torch, only to size the int8 weights
    import torch

    texts = list(calibration_texts)[:CALIBRATION_TEXTS]

    def labels_of(model: Any) -> list[int]:
        probe = copy.copy(fp32)  # the same tokenizer, pooling and neighbour vote
        probe.model = model
        return [int(i) for i in probe.predict_proba(texts).argmax(axis=1)]

    agreement: float | None = None
    if texts:
        qmodel, kept, agreement = quantize_guarded(fp32.model, labels_of)
    else:
        qmodel, kept = quantize_dynamic(fp32.model), []
    buffer = io.BytesIO()
    torch.save(qmodel.state_dict(), buffer)  # only measured, never written or read back
    record = {
        "form": "dynamic-int8",
        "derived_from": "fp32",
        "int8_bytes": buffer.tell(),
        "keep_fp32": kept,
        "label_agreement": None if agreement is None else round(agreement, 4),
    }
    tmp = path / (QUANTIZED_FILE + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.rename(path / QUANTIZED_FILE)
    return path / QUANTIZED_FILE


def form_measure(
    classifier: TextClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    rounds: int = 2,
    batch_size: int = 64,
) -> FormMeasure:
    """Accuracy on (texts, labels), the best of `rounds` timed passes over them in batches, and
    the best of `rounds` passes over the first few of them asked one at a time (`single_rate`)."""
    classifier.predict(list(texts[:8]))  # warm-up: first call pays for lazy initialisation
    best = float("inf")
    predicted: list[str] = []
    for _ in range(max(1, rounds)):
        started = time.perf_counter()
        predicted = [p.label for p in classifier.predict(texts, batch_size=batch_size)]
        best = min(best, time.perf_counter() - started)
    report = classification_report(list(labels), predicted, classifier.labels)
    return FormMeasure(
        form=classifier.serving,
        device="cuda" if classifier.device.startswith("cuda") else "cpu",
        score=round(float(report["accuracy"]), 4),
        texts_per_s=round(len(texts) / best, 1) if best > 0 else 0.0,
        single_per_s=single_rate(classifier.predict, texts, rounds=rounds),
    )


def classifier_forms_measure(
    path: str | Path,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    forms: Sequence[str] | None = None,
    rounds: int = 2,
) -> list[FormMeasure]:
    """Measure each form of the classifier at `path` on the same rows, fp32 torch first.

    Without `forms`: fp32, torch int8, every exported ONNX form and (where the CPU has native
    bf16) bf16 on the CPU, plus fp32 and fp16 on CUDA when there is a GPU.
    """
    path = Path(path)
    if forms is None:
        forms = [FP32, TORCH_INT8, *(f for f in EXPORTED if form_file(path, f).is_file())]
        forms += cpu_torch_forms()
    measures = []
    for form in forms:
        classifier = TextClassifier.load(path, device="cpu", serving=form)
        measure = form_measure(classifier, texts, labels, rounds=rounds)
        if form in EXPORTED:
            measure = dataclasses.replace(measure, file_bytes=form_file(path, form).stat().st_size)
        measures.append(measure)
    if cuda_available():
        for form in (FP32, FP16):
            gpu = TextClassifier.load(path, device="cuda", serving=form)
            measures.append(form_measure(gpu, texts, labels, rounds=rounds))
    return measures


def classifier_fastest_form(
    path: str | Path,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    device: str = "cpu",
    tolerance: float = DEFAULT_TOLERANCE,
    rounds: int = 1,
) -> tuple[TextClassifier, list[FormMeasure]]:
    """The classifier saved at `path` loaded in its fastest form on `device` within `tolerance`
    of fp32's accuracy on (texts, labels), and every form's measure.

    The ONNX forms are exported first (int8 calibrated and guarded on `texts`) when the device
    is a CPU; on CUDA the choice is between fp32 and fp16. For one-off bulk work, such as a
    teacher labelling a corpus, where no registry version records the choice: so the fastest in
    batches (`form_fastest(..., rate="batch")`).
    """
    path = Path(path)
    if device.startswith("cuda"):
        measures = [
            form_measure(
                TextClassifier.load(path, device=device, serving=form), texts, labels, rounds=rounds
            )
            for form in (FP32, FP16)
        ]
    else:
        classifier_forms_export(path, calibration_texts=texts)
        measures = classifier_forms_measure(path, texts, labels, rounds=rounds)
    chosen = form_fastest(
        measures, device=device, baseline=measures[0].score, tolerance=tolerance, rate="batch"
    )
    return TextClassifier.load(path, device=device, serving=chosen), measures
