"""The support app's adapted base ("support-base"): its texts and how it judges a base.

The unlabelled texts are the knowledge base's passages, past conversations (questions and
best replies) and the customers' and agents' messages of transcripts; task-adaptive
pretraining reads the labelled past questions. A base is judged by the intent classifier
fine-tuned from it on the past conversations: its held-out macro-F1.
"""

from __future__ import annotations

from pathlib import Path

from apps.mlops.runtime import AdaptedBase, TrainingContext
from mlcore.embedder import base_model_path

from .intent import intent_train, rows_from_past
from .models import Chunk, Message, PastConversation

# The most texts one adaptation reads from each source.
MAX_TEXTS = 100_000


def support_texts() -> list[str]:
    """Passages, past questions and replies, and transcript messages (newest first)."""
    texts = list(Chunk.objects.order_by("-pk").values_list("text", flat=True)[:MAX_TEXTS])
    for question, reply in PastConversation.objects.order_by("-pk").values_list(
        "question", "best_reply"
    )[:MAX_TEXTS]:
        texts.extend(t for t in (question, reply) if t)
    texts.extend(
        Message.objects.filter(sender__in=[Message.Sender.CUSTOMER, Message.Sender.AGENT])
        .order_by("-pk")
        .values_list("text", flat=True)[:MAX_TEXTS]
    )
    return texts


def task_texts() -> list[str]:
    """The labelled past questions the intent classifier trains on."""
    return [question for question, _ in rows_from_past(None)]


def base_score(base: Path | None, ctx: TrainingContext, max_steps: int | None) -> tuple[str, float]:
    """Held-out macro-F1 of the intent classifier fine-tuned from `base` (None: MiniLM)."""
    params: dict[str, object] = {"base_dir": str(base or base_model_path())}
    if max_steps:
        params["max_steps"] = max_steps
    workdir = ctx.workdir / f"evaluate-{'reference' if base is None else 'adapted'}"
    workdir.mkdir(parents=True, exist_ok=True)
    outcome = intent_train(
        TrainingContext(
            run_id=ctx.run_id,
            params=params,
            workdir=workdir,
            should_stop=ctx.should_stop,
            log=ctx.log,
        )
    )
    return "macro_f1", float(outcome.metrics["macro_f1"])


ADAPTED_BASE = AdaptedBase(
    app="support",
    title="Support",
    texts=support_texts,
    task_texts=task_texts,
    score=base_score,
)
