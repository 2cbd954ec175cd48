"""Distillation over unlabelled text: a larger or better teacher labels the unlabelled corpus
with probabilities, and the served model learns them beside the labelled set.

The teacher: `teacher_base` fine-tuned on the same training split when named; else mpnet
when its packages are installed; else the production sentiment model; else the student's own
base fine-tuned first. It labels in its fastest form on its device within one point of its
fp32 accuracy on the validation rows (on a CPU: bf16 where the CPU has native bf16, else
usually guarded ONNX int8), in big batches (the training set's texts too, so every row has the
teacher's view).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from apps.mlops.runtime import ParamSpec, TrainingContext, corpus_choices, corpus_paths
from apps.mlops.services import model_available, model_load
from mlcore.adapt import corpus_read
from mlcore.embedder import BaseModelMissing, base_model_resolve
from mlcore.serving.choice import FP32

# Texts labelled per forward pass: big batches, as nothing is learnt while labelling.
LABEL_BATCH = 256
# At most this many unlabelled texts join a run (the full news corpus is about 178k).
UNLABELLED_CAP = 200_000


@dataclass(frozen=True)
class DistilledData:
    """The student's training rows (labelled + unlabelled) and the teacher's probabilities."""

    texts: list[str]
    labels: list[str]
    probabilities: npt.NDArray[np.float32]
    metrics: dict[str, Any]


# Corpora uploaded for the sentiment app (Models → Corpora), named by id: read with the files.
UNLABELLED_CORPORA_SPEC = ParamSpec(
    "unlabelled_corpora",
    "ids",
    None,
    "Corpora uploaded for sentiment (Models → Corpora) the teacher labels, with any files.",
    label="Unlabelled corpora",
    choices=lambda: corpus_choices("sentiment"),
    advanced=True,
)


def _files(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def unlabelled_files(params: dict[str, Any]) -> list[str]:
    """The unlabelled files of a run: its uploaded corpora's texts, then its files."""
    ids = [int(i) for i in params.get("unlabelled_corpora") or []]
    stored = corpus_paths(app="sentiment", ids=ids) if ids else []
    return stored + _files(params.get("unlabelled"))


def _teacher(
    *,
    ctx: TrainingContext,
    params: dict[str, Any],
    base: Path,
    config: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> tuple[Any, str]:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import fit

    name = params.get("teacher_base")
    if not name:
        try:
            teacher_base: Path | None = base_model_resolve("mpnet")
            name = "mpnet"
        except BaseModelMissing:
            teacher_base = None
        if teacher_base is None and model_available("sentiment"):
            ctx.log("teacher: the production sentiment model")
            return model_load("sentiment"), "production"
        if teacher_base is None:
            teacher_base, name = base, "same base"
    else:
        try:
            teacher_base = base_model_resolve(str(name))
        except BaseModelMissing as exc:
            raise ValueError(str(exc)) from None
    ctx.log(f"teacher: {name} ({teacher_base}) fine-tuned on the same split")
    result = fit(
        train[0],
        train[1],
        config=config,
        val_texts=validation[0],
        val_labels=validation[1],
        base_model=teacher_base,
        should_stop=ctx.should_stop,
    )
    return result.classifier, str(name)


def _fastest(
    ctx: TrainingContext, teacher: Any, validation: tuple[list[str], list[str]]
) -> tuple[Any, str]:
    """A freshly fitted teacher in its fastest form on its device within one point of its fp32
    accuracy on the validation rows (int8 is guarded there: torch's int8 alone wrecks mpnet)."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier.forms import classifier_fastest_form

    if teacher.serving != FP32:  # the production model, already in its chosen form
        return teacher, str(teacher.serving)
    with tempfile.TemporaryDirectory(prefix="teacher-") as folder:
        saved = teacher.save(Path(folder) / "teacher")
        fastest, measures = classifier_fastest_form(
            saved, validation[0], validation[1], device=str(teacher.device)
        )
    rates = ", ".join(f"{m.form} {m.texts_per_s}/s acc {m.score}" for m in measures)
    ctx.log(f"teacher labels in {fastest.serving} (measured on validation: {rates})")
    return fastest, str(fastest.serving)


def distillation_targets(
    *,
    ctx: TrainingContext,
    params: dict[str, Any],
    base: Path,
    config: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> DistilledData | None:
    """The distillation rows for `params["unlabelled"]` and `params["unlabelled_corpora"]`;
    None when neither is given."""
    files = unlabelled_files(params)
    if not files:
        return None
    try:
        unlabelled = corpus_read(files, limit=UNLABELLED_CAP)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the unlabelled texts: {exc}") from None
    held = set(validation[0]) | set(train[0])
    unlabelled = [t for t in unlabelled if t not in held]
    if not unlabelled:
        raise ValueError("the unlabelled files hold no text beyond the labelled set")
    teacher, teacher_name = _teacher(
        ctx=ctx, params=params, base=base, config=config, train=train, validation=validation
    )
    labels = sorted(set(train[1]) | set(validation[1]))
    if list(teacher.labels) != labels:
        raise ValueError(f"the teacher's labels {teacher.labels} are not the data's {labels}")
    teacher_report = teacher.evaluate(validation[0], validation[1])
    teacher, form = _fastest(ctx, teacher, validation)
    ctx.log(f"teacher labels {len(unlabelled)} unlabelled texts")
    texts = train[0] + unlabelled
    probabilities = np.asarray(
        teacher.predict_proba(texts, batch_size=LABEL_BATCH), dtype=np.float32
    )
    pseudo = [labels[i] for i in np.argmax(probabilities[len(train[0]) :], axis=1)]
    return DistilledData(
        texts=texts,
        labels=train[1] + pseudo,
        probabilities=probabilities,
        metrics={
            "distillation": {
                "teacher": teacher_name,
                "teacher_form": form,
                "teacher_accuracy": round(float(teacher_report["accuracy"]), 4),
                "teacher_macro_f1": round(float(teacher_report["macro"]["f1"]), 4),
                "unlabelled": len(unlabelled),
            }
        },
    )
