"""The support app's adapted base ("support-base"): its texts and how it judges a base.

The unlabelled texts are the knowledge base's passages, past conversations (questions and
best replies) and the customers' and agents' messages of transcripts; task-adaptive
pretraining reads the labelled past questions. A base is judged on both jobs it does, on the
same held-out past questions (the intent classifier's split), which never enter the corpus:

- the intent classifier fine-tuned from it on the past conversations: its held-out macro-F1;
- retrieval: article hit@3 of its dense search, each held-out labelled past question against
  its knowledge base's published passages (a hit: one of the three best articles carries the
  question's intent). Measured where articles carry intents; skipped (logged) elsewhere.

The gate wants neither worse and one better. Once a base is in production, intent training
starts from it and every MiniLM knowledge base is embedded by it, then switched to it
(services/embedding.py), so queries and passages always come from one encoder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from django.conf import settings

from apps.mlops.runtime import AdaptedBase, TrainingContext, TrainOutcome, fine_tune_score
from mlcore.base_models import base_model_path

from .encoders import passage_text
from .intent import intent_held_out, intent_train, past_labelled, rows_from_past
from .models import Article, Chunk, Message, PastConversation

# The most texts one adaptation reads from each source.
MAX_TEXTS = 100_000
# The most held-out past questions retrieval is judged on (newest first).
MAX_JUDGED = 2_000
K = 3


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
    """The labelled past questions (adaptation leaves out those judged_texts names)."""
    return [question for question, _ in rows_from_past(None)]


def _held_out() -> list[tuple[int, int, str, str, str]]:
    """The past conversations a base is judged on, by both jobs (past_labelled's rows): the
    intent classifier's held-out rows."""
    rows = past_labelled(None)
    _, held = intent_held_out([row[3] for row in rows])
    return [rows[i] for i in held]


def judged_texts() -> list[str]:
    """The held-out past conversations' questions, and their best replies, which would give
    the judged answers away."""
    return [text for _, _, question, _, reply in _held_out() for text in (question, reply) if text]


def _fine_tune(ctx: TrainingContext, base: Path) -> TrainOutcome:
    return intent_train(replace(ctx, params={**ctx.params, "base_dir": str(base)}))


# Held-out macro-F1 of the intent classifier fine-tuned from a base on the past conversations.
intent_score = fine_tune_score(_fine_tune, {})


def article_hit(base: Path | None, ctx: TrainingContext) -> float | None:
    """Article hit@3 of dense retrieval with `base` (None: MiniLM) for the held-out labelled
    past questions (_held_out) of knowledge bases whose published articles carry intents;
    None when there are none."""
    # heavy: the embedder loads torch and transformers
    from mlcore.embedder import Embedder

    published = Chunk.objects.filter(article__status=Article.Status.PUBLISHED)
    with_intents = set(
        published.exclude(article__intents=[]).values_list("kb_id", flat=True).distinct()
    )
    held = sorted(_held_out(), reverse=True)  # newest first
    questions = [
        (kb_id, question, intent) for _, kb_id, question, intent, _ in held if kb_id in with_intents
    ][:MAX_JUDGED]
    if not questions:
        ctx.log(
            "article hit@3: not measured (no held-out labelled past question of a KB with intents)"
        )
        return None
    # Only the passages of the knowledge bases the judged questions ask.
    passages = [
        (kb_id, article_id, passage_text(title, heading, text), set(intents or ()))
        for kb_id, article_id, title, heading, text, intents in published.filter(
            kb_id__in={kb_id for kb_id, _, _ in questions}
        ).values_list(
            "kb_id", "article_id", "article__title", "heading", "text", "article__intents"
        )
    ]
    article_intents = {article_id: intents for _, article_id, _, intents in passages}
    encoder = Embedder(base or base_model_path(), device=settings.ML_DEVICE, form="fp32")
    vectors = encoder.embed([text for _, _, text, _ in passages])
    asked = encoder.embed([question for _, question, _ in questions])
    rows: dict[int, list[int]] = defaultdict(list)
    for row, (kb_id, *_rest) in enumerate(passages):
        rows[kb_id].append(row)
    hits = 0
    for (kb_id, _, intent), vector in zip(questions, asked):
        candidates = rows[kb_id]
        order = np.argsort(-(vectors[candidates] @ vector), kind="stable")
        articles: list[int] = []
        for i in order:
            article_id = passages[candidates[i]][1]
            if article_id not in articles:
                articles.append(article_id)
            if len(articles) == K:
                break
        hits += any(intent in article_intents[a] for a in articles)
    value = hits / len(questions)
    ctx.log(f"article hit@{K} of dense retrieval on {len(questions)} past questions: {value:.4f}")
    return value


def base_score(base: Path | None, ctx: TrainingContext, max_steps: int | None) -> dict[str, float]:
    """The intent classifier's held-out macro-F1 and retrieval's article hit@3 with `base`."""
    scores = intent_score(base, ctx, max_steps)
    hit = article_hit(base, ctx)
    return scores if hit is None else {**scores, f"article_hit@{K}": hit}


def _on_production(_version: int) -> None:
    # cycle: the tasks module imports services, which import the intent model
    from .tasks import knowledge_bases_adapted_base_task

    knowledge_bases_adapted_base_task.delay()


ADAPTED_BASE = AdaptedBase(
    app="support",
    title="Support",
    texts=support_texts,
    task_texts=task_texts,
    score=base_score,
    judged_texts=judged_texts,
    on_production=_on_production,
)
