"""The sentiment app's adapted base ("sentiment-base"): its texts and how it judges a base.

The unlabelled texts are the ingested documents' sentences; task-adaptive pretraining reads
the training sentences instead. A base is judged by the sentiment classifier fine-tuned from
it with the production recipe on the labelled data the production model trained on: its
held-out macro-F1 and accuracy (the gate wants neither worse and one better).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.mlops.runtime import (
    AdaptedBase,
    TrainingContext,
    TrainOutcome,
    fine_tune_score,
    production_params,
)

from .distillation import documents_texts as documents_texts
from .models import LabelledSet
from .training import DEFAULT_PARAMS, DEMO_DATA, MODEL_NAME, sentiment_fit, training_rows_load
from .training_data import set_ids_parse, training_data_assemble


def training_texts() -> list[str]:
    """The sentences the classifier trains on (the demo set, every imported set)."""
    data = training_data_assemble(
        base_path=DEMO_DATA,
        base_rows=training_rows_load(DEMO_DATA),
        set_ids=set_ids_parse("all"),
        include_corrections=False,
    )
    return [row.sentence for row in data.rows]


def _fine_tune(ctx: TrainingContext, base: Path) -> TrainOutcome:
    return sentiment_fit(ctx, ctx.params, base)


def evaluation_params(ctx: TrainingContext) -> dict[str, Any]:
    """The production recipe on the labelled data the production model trained on: its file
    (while it is still there), the imported sets it used (those not deleted since) and its
    corrections; with no production model, the demo set and every imported set. No
    distillation: a teacher's labels would judge the teacher, not the base."""
    production = production_params(MODEL_NAME)
    if production is None:
        ctx.log("judged on the demo set and every imported set (no production sentiment model)")
        return {**DEFAULT_PARAMS, "data": str(DEMO_DATA), "sets": "all", "distil_documents": "no"}
    file = Path(production.get("data") or DEMO_DATA)
    if not file.is_file():
        ctx.log(f"production's training file {file} is gone: judged on the demo set instead")
        file = DEMO_DATA
    used = [s["id"] for s in (production.get("training_data") or {}).get("sets", [])]
    kept = sorted(LabelledSet.objects.filter(pk__in=used).values_list("pk", flat=True))
    ctx.log(f"judged on production's labelled data: {file.name} and sets {kept or 'none'}")
    return {
        **DEFAULT_PARAMS,
        "data": str(file),
        "sets": kept or "none",
        "include_corrections": production.get(
            "include_corrections", DEFAULT_PARAMS["include_corrections"]
        ),
        "distil_documents": "no",
    }


# Held-out macro-F1 and accuracy of the sentiment classifier fine-tuned from a base.
base_score = fine_tune_score(_fine_tune, evaluation_params, metrics=("macro_f1", "accuracy"))


ADAPTED_BASE = AdaptedBase(
    app=MODEL_NAME,
    title="Financial sentiment",
    texts=documents_texts,
    task_texts=training_texts,
    score=base_score,
    base_models=("minilm", "multilingual"),  # what "auto" trains the classifier from
)
