"""The recommender's adapted base ("recommender-base"): the item-text encoder adapted to the
catalog's own text, judged by the recommender's own evaluation.

The unlabelled texts are the active items' text (what the embedder reads: title, category, tags,
description) and the shoppers' review texts; task-adaptive pretraining reads the item texts
alone. A base is judged by text-only recommendation on held-out interactions: each shopper's
last distinct item is held out, and the items nearest (by the base's vectors of the item texts)
to what they touched before are ranked; the metric is NDCG@10 (hit@10 is logged). The reviews
shoppers wrote of their held-out items are left out of the corpus. An adapted base is promoted
only when that beats the base it would replace, measured in the same run.

Once one is in production, items are embedded with it (services `item_vectors`), and its promotion
re-embeds the whole catalog in the background, so the index never mixes two encoders.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from apps.mlops.runtime import AdaptedBase, TrainingContext
from mlcore.base_models import base_model_path
from mlcore.recommend import HistoryEntry, Ranker, evaluate

from .models import Event, Item
from .selectors import catalog_snapshot, settings_get
from .training import MIN_SHOPPERS, _histories, _model, last_touch_order, training_sequences

APP = "recommender"
# The most texts one adaptation reads from each source (newest first).
MAX_TEXTS = 100_000
# The text index's vectors: an encoder of another width cannot serve the catalog.
INDEX_DIM = 384
K = 10


def item_texts() -> list[str]:
    """The active items' text, as the embedder reads it (newest items first)."""
    return [item.text for item in Item.objects.filter(active=True).order_by("-pk")[:MAX_TEXTS]]


def recommender_texts() -> list[str]:
    """Item texts and the shoppers' review texts (newest first)."""
    reviews = (
        Event.objects.filter(kind=Event.Kind.RATING)
        .exclude(text="")
        .order_by("-pk")
        .values_list("text", flat=True)[:MAX_TEXTS]
    )
    return item_texts() + list(reviews)


def judged_texts() -> list[str]:
    """The reviews shoppers wrote of their held-out items: adapting to them would tell the
    encoder what the evaluation asks it to find. (The item texts are not judged texts: they
    are the catalog the encoder serves, as a knowledge base's passages are.)"""
    targets = _targets(training_sequences(settings_get().weights()))
    reviews = (
        Event.objects.filter(kind=Event.Kind.RATING)
        .exclude(text="")
        .values_list("user_id", "visitor_id", "item_id", "text")
    )
    return [
        text
        for user_id, visitor_id, item_id, text in reviews.iterator()
        if item_id in targets.get(Event.shopper_key(user_id, visitor_id), ())
    ]


def _encoder_vectors(base: Path, texts: list[str]) -> np.ndarray:
    # heavy: the embedder loads torch and transformers
    from mlcore.embedder import Embedder

    encoder = Embedder(base, device=settings.ML_DEVICE, form="fp32")
    if encoder.dim != INDEX_DIM:
        raise ValueError(
            f"the recommender's text index holds {INDEX_DIM}-dimensional vectors; this "
            f"encoder makes {encoder.dim} (adapt MiniLM for the recommender)"
        )
    return encoder.embed(texts)


def _targets(seqs: dict[str, list[Any]]) -> dict[str, set[int]]:
    """Each shopper's held-out item: the last of two or more distinct ones."""
    targets: dict[str, set[int]] = {}
    for key, seq in seqs.items():
        order = last_touch_order(seq)
        if len(order) >= 2:
            targets[key] = {order[-1]}
    return targets


def _holdout() -> tuple[dict[str, set[int]], dict[str, list[HistoryEntry]]]:
    seqs = training_sequences(settings_get().weights())
    targets = _targets(seqs)
    if len(targets) < MIN_SHOPPERS:
        raise ValueError(
            f"not enough behaviour to judge an item-text encoder: {len(targets)} shoppers with "
            f"2+ items (need {MIN_SHOPPERS})"
        )
    return targets, _histories(seqs, targets)


def base_score(base: Path | None, ctx: TrainingContext, _max_steps: int | None) -> dict[str, float]:
    """Text-only NDCG@10 on held-out interactions with `base` embedding the items (None:
    MiniLM). The evaluation trains nothing, so it has no step cap."""
    targets, histories = _holdout()
    catalog = catalog_snapshot(fresh=True)
    ids = catalog.ids.tolist()
    texts = {item.pk: item.text for item in Item.objects.filter(pk__in=ids)}
    vectors = _encoder_vectors(base or base_model_path(), [texts[i] for i in ids])
    catalog = replace(catalog, vectors=vectors.astype(np.float32))
    model = _model(histories, ids, 50.0, Ranker.default())
    metrics, _ = evaluate(catalog, model, histories, targets, k=K, strategy="text")
    ctx.log(
        f"text-only recommendation on {len(targets)} held-out shoppers: "
        f"ndcg@{K} {metrics[f'ndcg@{K}']:.4f}, hit@{K} {metrics[f'hr@{K}']:.4f}"
    )
    return {f"ndcg@{K}": float(metrics[f"ndcg@{K}"])}


def _on_production(_version: int) -> None:
    # cycle: the tasks module imports services, which import this module
    from .tasks import catalog_reembed_task

    catalog_reembed_task.delay()


ADAPTED_BASE = AdaptedBase(
    app=APP,
    title="Recommender item texts",
    texts=recommender_texts,
    task_texts=item_texts,
    score=base_score,
    judged_texts=judged_texts,
    on_production=_on_production,
)
