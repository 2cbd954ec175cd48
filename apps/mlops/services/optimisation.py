"""Serving forms of a version: exported, measured on its held-out rows, checked against the
policy's form tolerance, chosen.

The forms (mlcore.serving.choice): fp32 torch, torch's dynamic int8, ONNX Runtime fp32, ONNX
dynamic int8, ONNX static int8 (calibrated on the version's held-out texts), fp16 on CUDA. The
ONNX files sit in the version's artifact under `forms/` and `forms.json` holds every measure; all
are checksummed like the version's other files, so they travel in its signed archive and are
verified on import and before every load.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlcore.metrics import classification_report
from mlcore.serving.choice import (
    AUTO,
    DEFAULT_TOLERANCE,
    FP32,
    TORCH_INT8,
    FormMeasure,
    form_fastest,
    form_refusal,
    forms_record_write,
    single_rate,
)

from ..evaluation import eval_rows
from ..model_store import registry
from ..models import ModelPolicy, ModelVersion

log = logging.getLogger(__name__)

# Kept for callers of the old name: the default tolerance of a form against fp32 (one point).
INT8_MAX_ACCURACY_LOSS = DEFAULT_TOLERANCE


def _is_classifier_artifact(path: Path) -> bool:
    return (path / "serving.json").exists()  # written by mlcore's TextClassifier.save


def form_tolerance(name: str) -> float:
    """How much accuracy a serving form may lose against fp32: the model's policy, else 1 point."""
    policy = ModelPolicy.objects.filter(name=name).first()
    return policy.form_tolerance if policy else DEFAULT_TOLERANCE


def _measure(classifier: Any, texts: list[str], labels: list[str], rounds: int) -> dict[str, Any]:

    classifier.predict(texts[:8])  # warm-up: first call pays for lazy initialisation
    best = float("inf")
    preds: list[str] = []
    for _ in range(rounds):
        started = time.perf_counter()
        preds = [p.label for p in classifier.predict(texts, batch_size=32)]
        best = min(best, time.perf_counter() - started)
    report = classification_report(labels, preds, classifier.labels)
    return {
        "seconds": round(best, 4),
        "texts_per_s": round(len(texts) / best, 1) if best > 0 else None,
        "single_per_s": single_rate(classifier.predict, texts, rounds=rounds),
        "accuracy": report["accuracy"],
        "macro_f1": report["macro"]["f1"],
    }


def model_version_optimise(
    *, name: str, version: int, rounds: int = 3, serve_fastest: bool = True
) -> dict[str, Any]:
    """Export every serving form of a classifier version and measure each on its held-out rows.

    Speed and accuracy are measured on the version's held-out rows (`artifact/eval.jsonl`), on
    the same texts; the static int8 form is calibrated on those texts. The files and the
    measures (`forms.json`) are added to the version's checksummed files. With `serve_fastest`
    the version is then served in 'auto': each device loads its fastest form within tolerance.
    """
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import QUANTIZED_FILE, SERVING_FILE, TextClassifier
    from mlcore.classifier.forms import EXPORTED, classifier_forms_export, cpu_torch_forms
    from mlcore.classifier.forms import classifier_forms_measure as forms_measure
    from mlcore.classifier.model import serving_form_set

    row = ModelVersion.objects.get(name=name, version=version)
    registry().verify(name, version)
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier; it has no serving forms")
    rows = eval_rows(path / "eval.jsonl")
    if not rows:
        raise ValueError(f"{name} v{version} has no held-out rows (artifact/eval.jsonl)")
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    files = classifier_forms_export(path, calibration_texts=texts)  # with the torch int8 form
    # Short eval sets time badly; repeat them up to a batch worth measuring.
    repeat = max(1, -(-64 // len(texts)))
    texts_timed, labels_timed = texts * repeat, labels * repeat
    fp32 = _measure(
        TextClassifier.load(path, device="cpu", serving=FP32), texts_timed, labels_timed, rounds
    )
    int8 = _measure(
        TextClassifier.load(path, device="cpu", serving=TORCH_INT8),
        texts_timed,
        labels_timed,
        rounds,
    )
    measures = [
        *(
            FormMeasure(
                form,
                "cpu",
                round(m["accuracy"], 4),
                m["texts_per_s"] or 0.0,
                single_per_s=m["single_per_s"],
            )
            for form, m in ((FP32, fp32), (TORCH_INT8, int8))
        ),
        *forms_measure(
            path,
            texts_timed,
            labels_timed,
            forms=[*EXPORTED, *cpu_torch_forms()],
            rounds=rounds,
        ),
    ]
    tolerance = form_tolerance(name)
    baseline = measures[0].score
    record = forms_record_write(path, measures, baseline=baseline, tolerance=tolerance)
    registry().add_files(
        name,
        version,
        {
            QUANTIZED_FILE: path / QUANTIZED_FILE,
            record.name: record,
            **{str(f.relative_to(path)): f for f in files.values()},
        },
    )
    int8_record = json.loads((path / QUANTIZED_FILE).read_text())
    result = {
        "form": "int8",
        "eval_rows": len(rows),
        "timed_texts": len(texts_timed),
        "fp32": fp32,
        "int8": int8,
        "speedup": round(fp32["seconds"] / int8["seconds"], 3) if int8["seconds"] else None,
        "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
        "macro_f1_change": round(int8["macro_f1"] - fp32["macro_f1"], 4),
        "int8_bytes": int8_record.get("int8_bytes"),
        # the layers torch's int8 form keeps fp32 (guarded on the held-out texts), and the
        # share of their labels it keeps
        "int8_keep_fp32": int8_record.get("keep_fp32", []),
        "int8_label_agreement": int8_record.get("label_agreement"),
        "tolerance": tolerance,
        "forms": {
            m.form + ("" if m.device == "cpu" else f"@{m.device}"): {
                "device": m.device,
                "accuracy": m.score,
                "accuracy_change": round(m.score - baseline, 4),
                "texts_per_s": m.texts_per_s,
                "single_per_s": m.single_per_s,
                "serving_per_s": round(m.serving_per_s, 1),
                # against fp32, as served: the rate the choice goes by (mlcore.serving.choice)
                "speedup": round(m.serving_per_s / measures[0].serving_per_s, 2)
                if measures[0].serving_per_s
                else None,
                "bytes": m.file_bytes,
                "refused": form_refusal(m, baseline=baseline, tolerance=tolerance),
            }
            for m in measures
        },
        "fastest": {
            device: form_fastest(measures, device=device, baseline=baseline, tolerance=tolerance)
            for device in ("cpu", "cuda")
        },
        "measured_at": timezone.now().isoformat(),
    }
    row.optimisation = result
    fields = ["optimisation"]
    if serve_fastest:
        serving_form_set(path, AUTO)
        registry().add_files(name, version, {SERVING_FILE: path / SERVING_FILE})
        row.serving_form = AUTO
        fields.append("serving_form")
    row.save(update_fields=fields)
    return result


def _form_measured(row: ModelVersion, form: str) -> dict[str, Any] | None:
    optimisation = row.optimisation or {}
    if form == TORCH_INT8 and "accuracy_change" in optimisation:
        return {"accuracy_change": optimisation["accuracy_change"]}  # today's int8 rule
    forms = optimisation.get("forms") or {}
    measured: dict[str, Any] | None = forms.get(form) or forms.get(f"{form}@cuda")
    return measured


def model_version_serving_form_set(
    *, name: str, version: int, form: str, force: bool = False
) -> ModelVersion:
    """Choose the form a classifier version is served in: one of mlcore.serving.choice.FORMS,
    or 'auto' (each device its fastest form within tolerance).

    Processes serving this version reload it on their next call (its meta.json changes). A form
    other than fp32 must have been measured, and must have lost at most the model's form
    tolerance (default one point) on the held-out rows, unless `force`.
    """
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import SERVING_FILE, serving_form_set
    from mlcore.classifier.model import form_file
    from mlcore.serving.choice import FORMS, ONNX_FORMS

    row = ModelVersion.objects.get(name=name, version=version)
    if form not in (*FORMS, AUTO):
        raise ValueError(f"the serving form is one of {', '.join((*FORMS, AUTO))}")
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier")
    if form in ONNX_FORMS and not form_file(path, form).is_file():
        raise ValueError(f"{name} v{version} has no {form} form yet: optimise it first")
    if form == AUTO and not row.optimisation.get("forms"):
        raise ValueError(f"{name} v{version} has no measured forms yet: optimise it first")
    measured = _form_measured(row, form) if form not in (FP32, AUTO) else {}
    if form == TORCH_INT8 and measured is None and not row.optimisation:
        raise ValueError(f"{name} v{version} has no int8 form yet: optimise it first")
    change = (measured or {}).get("accuracy_change")
    tolerance = form_tolerance(name)
    if not force and change is not None and change < -tolerance - 1e-9:
        raise ValueError(
            f"the {form} form of {name} v{version} lost {-100 * change:.1f} points of accuracy "
            f"on the held-out rows (more than {100 * tolerance:g}); keep fp32, or force it"
        )
    registry().verify(name, version)
    serving_form_set(path, form)
    registry().add_files(name, version, {SERVING_FILE: path / SERVING_FILE})
    row.serving_form = form
    row.save(update_fields=["serving_form"])
    return row


def model_version_forms_on_promote(*, name: str, version: int) -> bool:
    """Queue the export of a promoted classifier version's forms when it has none yet."""
    if not settings.ML_FORMS_ON_PROMOTE:
        return False
    row = ModelVersion.objects.filter(name=name, version=version).first()
    if row is None or (row.optimisation or {}).get("forms"):
        return False
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path) or not (path / "eval.jsonl").is_file():
        return False
    # cycle: the tasks module imports these services
    from ..tasks import model_version_optimise_task  # tasks import these services

    transaction.on_commit(lambda: model_version_optimise_task.delay(name, version))
    return True
