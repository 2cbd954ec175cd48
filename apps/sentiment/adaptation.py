"""The sentiment app's adapted base ("sentiment-base"): its texts and how it judges a base.

The unlabelled texts are the ingested documents' sentences; task-adaptive pretraining reads
the training sentences instead. A base is judged by the sentiment classifier fine-tuned from
it with the production recipe: its held-out macro-F1.
"""

from __future__ import annotations

from pathlib import Path

from apps.mlops.runtime import AdaptedBase, TrainingContext, TrainOutcome, fine_tune_score

from .distillation import documents_texts as documents_texts
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


# Held-out macro-F1 of the sentiment classifier fine-tuned from a base with the production recipe,
# on the labelled rows alone: a teacher's labels would judge the teacher, not the base.
base_score = fine_tune_score(
    _fine_tune,
    {**DEFAULT_PARAMS, "data": str(DEMO_DATA), "sets": "all", "distil_documents": "no"},
)


ADAPTED_BASE = AdaptedBase(
    app=MODEL_NAME,
    title="Financial sentiment",
    texts=documents_texts,
    task_texts=training_texts,
    score=base_score,
)
