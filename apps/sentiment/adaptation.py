"""The sentiment app's adapted bases: its texts and how it judges a base.

Three models are adapted, each a kind of its own: MiniLM ("sentiment-base") and the
multilingual model ("sentiment-base-multilingual"), which `sentiment_train`'s "auto" choice
fine-tunes the served model from, and mpnet ("sentiment-base-mpnet"), which the distillation
teacher fine-tunes from. The unlabelled texts are the ingested documents' sentences;
task-adaptive pretraining reads the training sentences instead. A base is judged by the
sentiment classifier fine-tuned from it on the labelled data the production model trained on,
with the production recipe (mpnet: the teacher's): its held-out macro-F1 and accuracy (the
gate wants neither worse and one better). Those held-out sentences never enter the corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from apps.mlops.runtime import (
    AdaptedBase,
    TrainingContext,
    TrainOutcome,
    fine_tune_score,
    production_params,
)

from .defaults import TEACHER_MODEL, TEACHER_PARAMS
from .distillation import documents_texts as documents_texts
from .models import LabelledSet
from .training import (
    DEFAULT_PARAMS,
    DEMO_DATA,
    MODEL_NAME,
    params_data,
    sentiment_fit,
    validation_rows,
)


def _evaluation_data(log: Callable[[str], None]) -> dict[str, Any]:
    """The production recipe on the labelled data the production model trained on: its file
    (while it is still there), the imported sets it used (those not deleted since) and its
    corrections; with no production model, the demo set and every imported set. No
    distillation: a teacher's labels would judge the teacher, not the base."""
    production = production_params(MODEL_NAME)
    if production is None:
        log("judged on the demo set and every imported set (no production sentiment model)")
        return {**DEFAULT_PARAMS, "data": str(DEMO_DATA), "sets": "all", "distil_documents": "no"}
    file = Path(production.get("data") or DEMO_DATA)
    if not file.is_file():
        log(f"production's training file {file} is gone: judged on the demo set instead")
        file = DEMO_DATA
    used = [s["id"] for s in (production.get("training_data") or {}).get("sets", [])]
    kept = sorted(LabelledSet.objects.filter(pk__in=used).values_list("pk", flat=True))
    log(f"judged on production's labelled data: {file.name} and sets {kept or 'none'}")
    return {
        **DEFAULT_PARAMS,
        "data": str(file),
        "sets": kept or "none",
        "include_corrections": production.get(
            "include_corrections", DEFAULT_PARAMS["include_corrections"]
        ),
        "distil_documents": "no",
    }


def evaluation_params(ctx: TrainingContext) -> dict[str, Any]:
    """The evaluation's run parameters (_evaluation_data), said in the run's log; an mpnet
    base is judged as the distillation teacher it becomes, with the teacher's recipe."""
    params = _evaluation_data(ctx.log)
    if ctx.params.get("base_model") == TEACHER_MODEL:
        ctx.log(f"judged with the distillation teacher's recipe: {TEACHER_PARAMS}")
        params = {**params, **TEACHER_PARAMS}
    return params


def _quiet(_line: str) -> None:
    return None


def training_texts() -> list[str]:
    """The sentences the classifier trains on (the evaluation's data; task-adaptive
    pretraining reads them, less the judged ones)."""
    return [row.sentence for row in params_data(_evaluation_data(_quiet)).rows]


def judged_texts() -> list[str]:
    """The sentences the evaluation is judged on: the validation rows of its fine-tune."""
    params = _evaluation_data(_quiet)
    rows = params_data(params).rows
    _, held = validation_rows(params, [row.label for row in rows])
    return [rows[i].sentence for i in held]


def _fine_tune(ctx: TrainingContext, base: Path) -> TrainOutcome:
    return sentiment_fit(ctx, ctx.params, base)


# Held-out macro-F1 and accuracy of the sentiment classifier fine-tuned from a base.
base_score = fine_tune_score(_fine_tune, evaluation_params, metrics=("macro_f1", "accuracy"))


ADAPTED_BASE = AdaptedBase(
    app=MODEL_NAME,
    title="Financial sentiment",
    texts=documents_texts,
    task_texts=training_texts,
    score=base_score,
    judged_texts=judged_texts,
    # What "auto" trains the classifier from, and the distillation teacher's model.
    base_models=("minilm", "multilingual", TEACHER_MODEL),
)
