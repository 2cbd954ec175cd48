"""Learning and judging the pipeline offline: the ranker's training samples and ranking metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcore.metrics import ranking_metrics

from .model import RecommenderModel
from .pipeline import (
    Catalog,
    HistoryEntry,
    Rules,
    aggregate,
    candidate_features,
    candidates_generate,
    profile_vector,
    recommend,
)
from .ranking import FEATURES


def training_samples(
    catalog: Catalog,
    model: RecommenderModel,
    histories: dict[Any, list[HistoryEntry]],
    targets: dict[Any, set[int]],
    *,
    negatives: int = 1000,
    per_source: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, groups) for the ranker: each user's next items among their candidates
    are the positives, a sample of the other candidates the negatives."""
    rng = np.random.default_rng(seed)
    feats, labels, groups = [], [], []
    for number, (user, target) in enumerate(targets.items()):
        history = histories.get(user, [])
        weights = aggregate(history, model.recency)
        profile = profile_vector(catalog, weights)
        text_hits: list[int] = []
        if profile is not None:
            sims = catalog.vectors @ profile
            text_hits = catalog.ids[np.argsort(-sims)[: per_source + len(weights)]].tolist()
        rows, collab_scores = candidates_generate(
            catalog, model, weights, profile, text_hits, per_source, Rules()
        )
        if len(rows) == 0:
            continue
        f = candidate_features(catalog, model, weights, profile, rows, collab_scores)
        is_pos = np.array([int(catalog.ids[r]) in target for r in rows])
        if not is_pos.any():
            continue
        neg = np.nonzero(~is_pos)[0]
        if len(neg) > negatives:
            neg = rng.choice(neg, negatives, replace=False)
        pick = np.concatenate([np.nonzero(is_pos)[0], neg])
        feats.append(f[pick])
        labels.append(is_pos[pick].astype(np.float64))
        groups.append(np.full(len(pick), number))
    if not feats:
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.vstack(feats), np.concatenate(labels), np.concatenate(groups)


def evaluate(
    catalog: Catalog,
    model: RecommenderModel,
    histories: dict[Any, list[HistoryEntry]],
    relevant: dict[Any, set[int]],
    *,
    k: int = 10,
    strategy: str = "ranker",
) -> tuple[dict[str, float], dict[Any, list[int]]]:
    """Ranking metrics of the pipeline on held-out items (seen items excluded)."""
    recommended: dict[Any, list[int]] = {}
    for user, rel in relevant.items():
        if not rel:
            continue
        recs = recommend(
            catalog=catalog,
            model=model,
            history=histories.get(user, []),
            n=k,
            rules=Rules(strategy=strategy),
        )
        recommended[user] = [r.item_id for r in recs]
    return ranking_metrics(recommended, relevant, k=k, n_items=len(catalog)), recommended
