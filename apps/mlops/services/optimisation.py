"""Optimised serving forms of a version: measured, checked against tolerance, chosen."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from django.utils import timezone

from mlcore.metrics import classification_report

from ..evaluation import eval_rows
from ..model_store import registry
from ..models import (
    ModelVersion,
)

log = logging.getLogger(__name__)


def _is_classifier_artifact(path: Path) -> bool:
    return (path / "serving.json").exists()  # written by mlcore's TextClassifier.save


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
        "accuracy": report["accuracy"],
        "macro_f1": report["macro"]["f1"],
    }


def model_version_optimise(*, name: str, version: int, rounds: int = 3) -> dict[str, Any]:
    """Derive the dynamic-int8 serving form of a classifier version and measure it.

    Speed and accuracy of fp32 and int8 are measured on the version's held-out rows
    (`artifact/eval.jsonl`), on the CPU with the same texts, and stored on the version.
    """
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import QUANTIZED_FILE, TextClassifier, int8_form_save

    row = ModelVersion.objects.get(name=name, version=version)
    registry().verify(name, version)
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier; it has no int8 form")
    rows = eval_rows(path / "eval.jsonl")
    if not rows:
        raise ValueError(f"{name} v{version} has no held-out rows (artifact/eval.jsonl)")
    int8_form_save(path)
    registry().add_files(name, version, {QUANTIZED_FILE: path / QUANTIZED_FILE})
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    # Short eval sets time badly; repeat them up to a batch worth measuring.
    repeat = max(1, -(-64 // len(texts)))
    texts_timed, labels_timed = texts * repeat, labels * repeat
    fp32 = _measure(
        TextClassifier.load(path, device="cpu", serving="fp32"), texts_timed, labels_timed, rounds
    )
    int8 = _measure(
        TextClassifier.load(path, device="cpu", serving="int8"), texts_timed, labels_timed, rounds
    )
    result = {
        "form": "int8",
        "eval_rows": len(rows),
        "timed_texts": len(texts_timed),
        "fp32": fp32,
        "int8": int8,
        "speedup": round(fp32["seconds"] / int8["seconds"], 3) if int8["seconds"] else None,
        "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
        "macro_f1_change": round(int8["macro_f1"] - fp32["macro_f1"], 4),
        "int8_bytes": json.loads((path / QUANTIZED_FILE).read_text()).get("int8_bytes"),
        "measured_at": timezone.now().isoformat(),
    }
    row.optimisation = result
    row.save(update_fields=["optimisation"])
    return result


# The int8 form is refused when it lost more accuracy than this on the held-out rows, unless
# forced: dynamic int8 costs MiniLM well under a point, but it wrecks some models (mpnet lost
# 27 points on PhraseBank, docs/sentiment.md).
INT8_MAX_ACCURACY_LOSS = 0.01


def model_version_serving_form_set(
    *, name: str, version: int, form: str, force: bool = False
) -> ModelVersion:
    """Choose the form ('fp32' or 'int8') a classifier version is served in.

    Processes serving this version reload it on their next call (its meta.json changes). The
    int8 form must have lost at most INT8_MAX_ACCURACY_LOSS on the held-out rows when it was
    measured, unless `force`.
    """
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import QUANTIZED_FILE, SERVING_FILE, serving_form_set

    row = ModelVersion.objects.get(name=name, version=version)
    if form not in ("fp32", "int8"):
        raise ValueError("the serving form is 'fp32' or 'int8'")
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier")
    if form == "int8" and not (path / QUANTIZED_FILE).exists() and not row.optimisation:
        raise ValueError(f"{name} v{version} has no int8 form yet: optimise it first")
    change = (row.optimisation or {}).get("accuracy_change")
    if form == "int8" and not force and change is not None and change < -INT8_MAX_ACCURACY_LOSS:
        raise ValueError(
            f"the int8 form of {name} v{version} lost {-100 * change:.1f} points of accuracy on "
            f"the held-out rows (more than {100 * INT8_MAX_ACCURACY_LOSS:g}); keep fp32, or "
            "force it"
        )
    registry().verify(name, version)
    serving_form_set(path, form)
    registry().add_files(name, version, {SERVING_FILE: path / SERVING_FILE})
    row.serving_form = form
    row.save(update_fields=["serving_form"])
    return row
