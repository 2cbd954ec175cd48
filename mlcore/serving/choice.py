"""Serving forms, what each one measured, and which one a device serves.

A form is judged against fp32 torch, measured on the same texts: a classifier's score is its
accuracy on held-out rows, the embedder's its mean cosine to the fp32 vectors. A form that loses
more than the tolerance is refused (unless forced); among the rest each device serves the
fastest.

"Fastest" for serving is measured the way a served model is asked. Each form is timed twice:
in batches (`texts_per_s`: a scoring backlog, a busy micro-batcher) and one text at a time
(`single_per_s`: a lone customer's question, a quiet micro-batcher). The served choice takes
their harmonic mean (`serving_per_s`: the rate of serving as many texts each way), so a form
that is quick in batches but slow alone does not win. Measured on an AVX2 CPU, torch int8 led
ONNX int8 in big batches while ONNX int8 answered a text alone 1.7x faster, and served 8% more
asks from 50 customers and a lone customer's ask 14% faster (`python -m bench engine_spin`,
bench/RESULTS.md). Bulk work (a teacher labelling a corpus) chooses by `texts_per_s` alone.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# fp32 torch, torch's dynamic int8, ONNX Runtime fp32 / dynamic int8 / static (QDQ) int8, half
# precision on CUDA, and bf16 torch on CPUs with native bf16 (AMX or AVX-512 BF16: oneDNN's
# bf16 matrix kernels). Names stay within ModelVersion.serving_form's 10 characters.
FP32 = "fp32"
TORCH_INT8 = "int8"
ONNX_FP32 = "onnx-fp32"
ONNX_INT8 = "onnx-int8"
ONNX_INT8_STATIC = "onnx-int8s"
FP16 = "fp16"
BF16 = "bf16"
FORMS = (FP32, TORCH_INT8, ONNX_FP32, ONNX_INT8, ONNX_INT8_STATIC, FP16, BF16)
ONNX_FORMS = (ONNX_FP32, ONNX_INT8, ONNX_INT8_STATIC)
FORM_DEVICES = {
    FP32: ("cpu", "cuda"),
    TORCH_INT8: ("cpu",),
    ONNX_FP32: ("cpu",),
    ONNX_INT8: ("cpu",),
    ONNX_INT8_STATIC: ("cpu",),
    FP16: ("cuda",),
    BF16: ("cpu",),
}
# Not a form: "each device serves its fastest form within tolerance", from the forms record.
AUTO = "auto"
FORMS_RECORD = "forms.json"
# The default tolerance: one point of accuracy, or 0.01 of mean cosine.
DEFAULT_TOLERANCE = 0.01
# Dynamic int8 scales activations per batch, so a text's output moves slightly with the other
# texts of its batch (the embedder measured cosine 0.987 between a text alone and in a batch).
# Vectors that an index compares with queries must not depend on batch companions: the
# embedder's automatic choice leaves these forms out (they can still be named).
BATCH_DEPENDENT_FORMS = frozenset({TORCH_INT8, ONNX_INT8})


# Texts timed one at a time per form: enough to average out one slow call, few enough that a
# slow form (mpnet fp32, about 25 a second alone on 2 cores) adds seconds, not minutes.
SINGLE_TEXTS = 32


def single_rate(
    predict: Callable[[list[str]], Any], texts: Sequence[str], *, rounds: int = 2
) -> float:
    """Texts per second when the first SINGLE_TEXTS of `texts` are asked one call each (the
    best of `rounds` passes), as a lone customer's question is served."""
    alone = list(texts[:SINGLE_TEXTS])
    if not alone:
        return 0.0
    best = float("inf")
    for _ in range(max(1, rounds)):
        started = time.perf_counter()
        for text in alone:
            predict([text])
        best = min(best, time.perf_counter() - started)
    return round(len(alone) / best, 1) if best > 0 else 0.0


class FormRefused(ValueError):
    """A form lost more than the tolerance against fp32 (or was never measured)."""


def form_check(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"unknown serving form {form!r}: one of {', '.join(FORMS)}")
    return form


@dataclass(frozen=True)
class FormMeasure:
    """One form measured on one device: its score (accuracy or cosine) and its speed."""

    form: str
    device: str
    score: float
    texts_per_s: float
    file_bytes: int = 0
    # Texts per second asked one at a time (0: not measured, as in records from before it).
    single_per_s: float = 0.0

    @property
    def serving_per_s(self) -> float:
        """The harmonic mean of the batch and one-at-a-time rates (the batch rate alone where
        one at a time was not measured)."""
        if self.single_per_s <= 0 or self.texts_per_s <= 0:
            return self.texts_per_s
        return 2 / (1 / self.texts_per_s + 1 / self.single_per_s)

    def loss(self, baseline: float) -> float:
        """How much worse than the baseline's score, in the score's own unit (>= 0 is a loss)."""
        return baseline - self.score

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> FormMeasure:
        return cls(
            form=form_check(str(value["form"])),
            device=str(value.get("device", "cpu")),
            score=float(value["score"]),
            texts_per_s=float(value["texts_per_s"]),
            file_bytes=int(value.get("file_bytes", 0)),
            single_per_s=float(value.get("single_per_s", 0.0)),
        )


# How form_fastest ranks forms: to serve (both rates alike), in batches, or one text at a time.
RATES: dict[str, Callable[[FormMeasure], float]] = {
    "serving": lambda m: m.serving_per_s,
    "batch": lambda m: m.texts_per_s,
    "single": lambda m: m.single_per_s or m.texts_per_s,
}


def form_refusal(
    measure: FormMeasure | None, *, baseline: float, tolerance: float = DEFAULT_TOLERANCE
) -> str | None:
    """Why the form may not serve (None when it may)."""
    if measure is None:
        return "it has not been measured yet: optimise the version first"
    lost = measure.loss(baseline)
    if lost > tolerance + 1e-9:
        return (
            f"{measure.form} lost {100 * lost:.1f} points against fp32 on the held-out rows "
            f"(more than the tolerance of {100 * tolerance:g})"
        )
    return None


def form_fastest(
    measures: Iterable[FormMeasure],
    *,
    device: str,
    baseline: float,
    tolerance: float = DEFAULT_TOLERANCE,
    exclude: Iterable[str] = (),
    rate: str = "serving",
) -> str:
    """The fastest form measured on `device` within tolerance, leaving out the `exclude`d
    forms; fp32 when none is. Fastest by `rate`: "serving" (`serving_per_s`, batches and single
    texts alike), "batch" (`texts_per_s`) or "single" (`single_per_s`; the batch rate where a
    record has none)."""
    if rate not in RATES:
        raise ValueError(f"rate must be one of {', '.join(RATES)}, got {rate!r}")
    kind = "cuda" if device.startswith("cuda") else "cpu"
    left_out = set(exclude)
    allowed = [
        m
        for m in measures
        if m.device == kind
        and m.form not in left_out
        and kind in FORM_DEVICES.get(m.form, ())
        and form_refusal(m, baseline=baseline, tolerance=tolerance) is None
    ]
    if not allowed:
        return FP32
    return max(allowed, key=RATES[rate]).form


def forms_record_write(
    folder: str | Path, measures: Iterable[FormMeasure], *, baseline: float, tolerance: float
) -> Path:
    """Write the measures of a model's forms (`forms.json` in `folder`), atomically."""
    record = Path(folder) / FORMS_RECORD
    value = {
        "baseline": baseline,
        "tolerance": tolerance,
        "forms": [m.as_dict() for m in measures],
    }
    fd, tmp = tempfile.mkstemp(dir=record.parent, prefix=".forms-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(value, fh, indent=2)
    os.replace(tmp, record)
    return record


def form_auto(folder: str | Path, device: str) -> str:
    """The form 'auto' means on `device` for the model in `folder`: the fastest within the
    recorded tolerance, or fp32 when nothing was measured."""
    record = Path(folder) / FORMS_RECORD
    if not record.is_file():
        return FP32
    value = json.loads(record.read_text())
    measures = [FormMeasure.from_dict(m) for m in value.get("forms", [])]
    return form_fastest(
        measures,
        device=device,
        baseline=float(value["baseline"]),
        tolerance=float(value.get("tolerance", DEFAULT_TOLERANCE)),
    )
