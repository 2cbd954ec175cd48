"""The support app's adapted base ("support-base"): its texts and how it judges a base.

The unlabelled texts are the knowledge base's passages, past conversations (questions and
best replies) and the customers' and agents' messages of transcripts; task-adaptive
pretraining reads the labelled past questions. A base is judged by the intent classifier
fine-tuned from it on the past conversations: its held-out macro-F1.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from apps.mlops.runtime import AdaptedBase, TrainingContext, TrainOutcome, fine_tune_score

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


def _fine_tune(ctx: TrainingContext, base: Path) -> TrainOutcome:
    return intent_train(replace(ctx, params={**ctx.params, "base_dir": str(base)}))


# Held-out macro-F1 of the intent classifier fine-tuned from a base on the past conversations.
base_score = fine_tune_score(_fine_tune, {})


ADAPTED_BASE = AdaptedBase(
    app="support",
    title="Support",
    texts=support_texts,
    task_texts=task_texts,
    score=base_score,
)
