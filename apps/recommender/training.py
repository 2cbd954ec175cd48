"""Training the "recommender-ranker" model kind from logged behaviour.

Each shopper's last distinct item is the test target and the one before it the validation
target: the collaborative model is fitted on what came before, the ranker learns (listwise) to
put the validation item first, and the version is scored on the test items (NDCG@10, HR@10,
Recall@10, coverage) so the mlops gate can compare it with production.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from apps.mlops.runtime import ParamSpec, TrainingContext, TrainOutcome
from mlcore.metrics import ranking_metrics
from mlcore.recommend import (
    FEATURES,
    RECENCY_GRID,
    HistoryEntry,
    Ranker,
    RecommenderModel,
    collab_fit,
    evaluate,
    interaction_matrix,
    ranker_fit,
    training_samples,
)
from mlcore.registry import data_hash

from .models import Event
from .selectors import catalog_snapshot, events_counted, settings_get

MIN_SHOPPERS = 5


def training_sequences(
    weights: dict[str, float],
) -> dict[str, list[tuple[Any, int, str, float]]]:
    """Each shopper's events (created, item, kind, weight), oldest first. Events that name no
    shopper (a deleted account's, recorded without a visitor id) belong to no history: under
    one key they would make strangers' items look bought together."""
    rows = (
        events_counted()
        .exclude(kind=Event.Kind.IMPRESSION)
        .exclude(user=None, visitor_id="")
        .filter(item__active=True)
        .order_by("created", "pk")
        .values_list("user_id", "visitor_id", "item_id", "kind", "created")
    )
    out: dict[str, list[tuple[Any, int, str, float]]] = defaultdict(list)
    for user_id, visitor_id, item_id, kind, created in rows.iterator():
        out[Event.shopper_key(user_id, visitor_id)].append(
            (created, item_id, kind, weights.get(kind, 1.0))
        )
    return out


def last_touch_order(seq: list[tuple[Any, int, str, float]]) -> list[int]:
    """A shopper's distinct items, ordered by their last touch (the held-out ones come last)."""
    last = {item_id: i for i, (_, item_id, _, _) in enumerate(seq)}
    return sorted(last, key=last.__getitem__)


def _histories(
    seqs: dict[str, list[tuple[Any, int, str, float]]], drop: dict[str, set[int]]
) -> dict[str, list[HistoryEntry]]:
    out: dict[str, list[HistoryEntry]] = {}
    for key, seq in seqs.items():
        banned = drop.get(key, set())
        out[key] = [
            HistoryEntry(i, w, k) for _, i, k, w in reversed(seq) if i not in banned and w > 0
        ]
    return out


def _model(
    histories: dict[str, list[HistoryEntry]],
    item_ids: list[int],
    l2: float,
    ranker: Ranker,
    recency: float = 0.0,
) -> RecommenderModel:
    triples = ((key, h.item_id, h.weight) for key, hs in histories.items() for h in hs)
    matrix, _ = interaction_matrix(triples, item_ids)
    return RecommenderModel(
        collab=collab_fit(matrix, item_ids, l2=l2),
        ranker=ranker,
        meta={"l2": l2, "recency": recency},
    )


def _recency_choose(
    ctx: TrainingContext,
    catalog: Any,
    model: RecommenderModel,
    histories: dict[str, list[HistoryEntry]],
    targets: dict[str, set[int]],
) -> float:
    """The history recency half-life (RECENCY_GRID, 0 = off) with the best validation NDCG@10
    of the collaborative order; ties keep the smaller (0 first)."""
    scores = {}
    for recency in RECENCY_GRID:
        model.meta = {**model.meta, "recency": recency}
        metrics, _ = evaluate(catalog, model, histories, targets, strategy="collaborative")
        scores[recency] = metrics["ndcg@10"]
    best = max(RECENCY_GRID, key=lambda r: (scores[r], -r))
    model.meta = {**model.meta, "recency": best}
    ctx.log(
        "validation ndcg@10 by history recency (0 = off): "
        + ", ".join(f"{r:g}: {s:.4f}" for r, s in scores.items())
    )
    return best


# What a run started from the Models page or the API may set.
PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "l2",
        "float",
        50.0,
        "L2 regularisation of the EASE item-item model; higher for sparse, noisy behaviour.",
        label="L2 regularisation",
        minimum=0,
        minimum_exclusive=True,
        maximum=100000,
    ),
)


def ranker_train(ctx: TrainingContext) -> TrainOutcome:
    l2 = float(ctx.params.get("l2", 50.0))
    weights = settings_get().weights()
    seqs = training_sequences(weights)
    catalog = catalog_snapshot(fresh=True)
    item_ids = catalog.ids.tolist()
    test: dict[str, set[int]] = {}
    val: dict[str, set[int]] = {}
    for key, seq in seqs.items():
        order = last_touch_order(seq)
        if len(order) >= 3:
            test[key], val[key] = {order[-1]}, {order[-2]}
    if len(test) < MIN_SHOPPERS:
        raise ValueError(
            f"not enough behaviour to train: {len(test)} shoppers with 3+ items "
            f"(need {MIN_SHOPPERS})"
        )
    ctx.log(
        f"{sum(len(s) for s in seqs.values())} events, {len(seqs)} shoppers, "
        f"{len(test)} with a holdout, {len(item_ids)} items"
    )
    ctx.progress({"phase": "data", "shoppers": len(seqs)})
    drop_both = {k: test[k] | val[k] for k in test}
    hist_fit = _histories(seqs, drop_both)
    hist_train = _histories(seqs, test)
    fit_model = _model(hist_fit, item_ids, l2, Ranker.default())
    recency = _recency_choose(ctx, catalog, fit_model, hist_fit, val)
    users = sorted(val)
    half_a = {u: val[u] for u in users[::2]}
    half_b = {u: val[u] for u in users[1::2]}
    feats, labels, groups = training_samples(catalog, fit_model, hist_fit, half_a)
    candidates: dict[str, Ranker] = {
        "collaborative_only": Ranker.collaborative_only(),
        "default": Ranker.default(),
    }
    if labels.sum() >= 3:
        candidates["learned"] = ranker_fit(feats, labels, groups)
        candidates["learned"].params = {"selected": "learned"}
    scores = {}
    for name, ranker in candidates.items():
        fit_model.ranker = ranker
        metrics, _ = evaluate(catalog, fit_model, hist_fit, half_b)
        scores[name] = metrics["ndcg@10"]
        ctx.log(f"validation ndcg@10 with the {name} ranker: {metrics['ndcg@10']:.4f}")
    best = max(scores, key=lambda name: (scores[name], name == "learned"))
    ranker = candidates[best]
    ranker.params = {**ranker.params, "selected": best, "validation_ndcg": scores}
    ctx.progress({"phase": "ranker", "selected": best})
    test_model = _model(hist_train, item_ids, l2, ranker, recency)
    metrics, _ = evaluate(catalog, test_model, hist_train, test)
    seen = {k: {h.item_id for h in hs} for k, hs in hist_train.items()}
    order = [int(catalog.ids[r]) for r in catalog.trending_order]
    popular = {k: [i for i in order if i not in seen.get(k, set())][:10] for k in test}
    baseline = ranking_metrics(
        popular,
        test,
        k=10,
        n_items=len(item_ids),
    )
    ctx.log(f"test ndcg@10 {metrics['ndcg@10']:.4f} (most popular {baseline['ndcg@10']:.4f})")
    final = _model(_histories(seqs, {}), item_ids, l2, ranker, recency)
    artifact = Path(ctx.workdir) / "artifact"
    final.meta = {
        "l2": l2,
        "recency": recency,
        "items": len(item_ids),
        "selected_ranker": best,
    }
    final.save(artifact)
    n_events = sum(len(s) for s in seqs.values())
    fingerprint = [[k, len(s), s[-1][1]] for k, s in sorted(seqs.items())]
    return TrainOutcome(
        artifact_dir=artifact,
        metrics={
            **{k: round(float(v), 6) for k, v in metrics.items()},
            "most_popular_ndcg@10": round(float(baseline["ndcg@10"]), 6),
            "holdout_shoppers": len(test),
            "selected_ranker": best,
            "recency": recency,
        },
        data_hash=data_hash(fingerprint),
        data_size=n_events,
        label_distribution={"shoppers": len(seqs), "holdout": len(test)},
        base_model="EASE + MiniLM text + listwise ranker",
        params={"l2": l2},
    )


def ranker_weights(model: RecommenderModel) -> dict[str, float]:
    return dict(zip(["intercept", *FEATURES], np.round(model.ranker.weights, 4).tolist()))
