"""MovieLens-100k evaluation of the production pipeline (used by the evaluate command and bench).

Reads the RecBole-style atomic files (`ml-100k.inter`, `ml-100k.item`, tab-separated, headers
like `user_id:token`). Every rating counts as an interaction, as in Microsoft Recommenders.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.metrics import ranking_metrics
from mlcore.recommend import (
    RECENCY_GRID,
    Catalog,
    HistoryEntry,
    Ranker,
    RecommenderModel,
    collab_fit,
    evaluate,
    interaction_matrix,
    ranker_fit,
    training_samples,
)

L2_GRID = (200.0, 350.0, 500.0, 700.0, 1000.0)


@dataclass(frozen=True)
class Interaction:
    user: int
    item: int
    ts: float


def _read_atomic(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.split(":")[0] for h in next(reader)]
        return [dict(zip(header, row)) for row in reader if row]


def dataset_load(folder: Path) -> tuple[list[Interaction], dict[int, str]]:
    """Interactions and item texts (title, year and genres)."""
    folder = Path(folder)
    inter = next(folder.glob("*.inter"), None)
    item = next(folder.glob("*.item"), None)
    if inter is None or item is None:
        raise FileNotFoundError(f"{folder} has no *.inter and *.item files (MovieLens-100k)")
    rows = [
        Interaction(int(r["user_id"]), int(r["item_id"]), float(r.get("timestamp") or 0))
        for r in _read_atomic(inter)
    ]
    texts = {}
    for r in _read_atomic(item):
        title, year, genres = (
            r.get("movie_title", ""),
            r.get("release_year", ""),
            r.get("class", ""),
        )
        texts[int(r["item_id"])] = f"{title} ({year}). Genres: {genres.replace(' ', ', ')}."
    return rows, texts


def split(
    rows: Sequence[Interaction], protocol: str = "random", ratio: float = 0.75, seed: int = 42
) -> tuple[list[Interaction], list[Interaction]]:
    """Per-user split: `random` shuffles each user's rows with a seed (Microsoft Recommenders'
    python_random_split, stratified by user); `temporal` holds out each user's latest rows."""
    by_user: dict[int, list[Interaction]] = {}
    for row in rows:
        by_user.setdefault(row.user, []).append(row)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for user in sorted(by_user):
        items = by_user[user]
        if protocol == "temporal":
            items = sorted(items, key=lambda r: (r.ts, r.item))
        elif protocol == "random":
            items = [items[i] for i in rng.permutation(len(items))]
        else:
            raise ValueError(f"unknown split {protocol!r}; use random or temporal")
        cut = round(len(items) * ratio)
        train.extend(items[:cut])
        test.extend(items[cut:])
    return train, test


def histories_of(rows: Sequence[Interaction]) -> dict[int, list[HistoryEntry]]:
    out: dict[int, list[HistoryEntry]] = {}
    for row in sorted(rows, key=lambda r: -r.ts):
        out.setdefault(row.user, []).append(HistoryEntry(row.item, 1.0, "rating"))
    return out


def relevant_of(rows: Sequence[Interaction]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for row in rows:
        out.setdefault(row.user, set()).add(row.item)
    return out


def catalog_build(
    item_ids: Sequence[int],
    texts: dict[int, str],
    vectors: np.ndarray,
    train: Sequence[Interaction],
) -> Catalog:
    counts: dict[int, int] = {}
    for row in train:
        counts[row.item] = counts.get(row.item, 0) + 1
    n = len(item_ids)
    return Catalog(
        ids=np.asarray(item_ids, dtype=np.int64),
        vectors=vectors.astype(np.float32),
        titles=[texts.get(i, str(i)) for i in item_ids],
        category=np.array([""] * n),
        price=np.zeros(n),
        age_days=np.full(n, 3650.0),
        available=np.ones(n, dtype=bool),
        boost=np.zeros(n),
        popularity=np.array([float(counts.get(i, 0)) for i in item_ids]),
    )


def model_fit(
    train: Sequence[Interaction],
    item_ids: Sequence[int],
    l2: float,
    ranker: Ranker | None = None,
    recency: float = 0.0,
) -> RecommenderModel:
    matrix, _ = interaction_matrix(((r.user, r.item, 1.0) for r in train), item_ids)
    collab = collab_fit(matrix, item_ids, l2=l2, keep=len(item_ids))
    return RecommenderModel(
        collab=collab, ranker=ranker or Ranker.default(), meta={"l2": l2, "recency": recency}
    )


def most_popular(
    train: Sequence[Interaction], users: Sequence[int], k: int
) -> dict[int, list[int]]:
    counts: dict[int, int] = {}
    for row in train:
        counts[row.item] = counts.get(row.item, 0) + 1
    order = sorted(counts, key=lambda i: (-counts[i], i))
    seen = relevant_of(train)
    out = {}
    for user in users:
        mine = seen.get(user, set())
        out[user] = [i for i in order[: k + len(mine)] if i not in mine][:k]
    return out


def run(
    folder: Path,
    *,
    protocol: str = "random",
    embed: Callable[[list[str]], np.ndarray],
    k: int = 10,
    seed: int = 42,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Tune on a validation split carved from train, then evaluate ours and MostPopular on test."""
    rows, texts = dataset_load(folder)
    train, test = split(rows, protocol, seed=seed)
    item_ids = sorted({r.item for r in rows} | set(texts))
    log(f"{len(rows)} interactions, {len(item_ids)} items; train {len(train)}, test {len(test)}")
    vectors = embed([texts.get(i, str(i)) for i in item_ids])
    # Validation carved from the training part only; the test part is never looked at here.
    fit_part, val_part = split(train, protocol, seed=seed + 1)
    val_catalog = catalog_build(item_ids, texts, vectors, fit_part)
    val_hist, val_rel = histories_of(fit_part), relevant_of(val_part)
    best_l2, best_val = L2_GRID[0], -1.0
    for l2 in L2_GRID:
        model = model_fit(fit_part, item_ids, l2)
        metrics, _ = evaluate(val_catalog, model, val_hist, val_rel, k=k, strategy="collaborative")
        log(f"  validation l2={l2:g}: ndcg@{k}={metrics[f'ndcg@{k}']:.4f}")
        if metrics[f"ndcg@{k}"] > best_val:
            best_l2, best_val = l2, metrics[f"ndcg@{k}"]
    # Then the history's recency weighting, on the same validation users.
    best_recency, best_val = 0.0, -1.0
    for recency in RECENCY_GRID:
        model = model_fit(fit_part, item_ids, best_l2, recency=recency)
        metrics, _ = evaluate(val_catalog, model, val_hist, val_rel, k=k, strategy="collaborative")
        log(f"  validation recency={recency:g}: ndcg@{k}={metrics[f'ndcg@{k}']:.4f}")
        if metrics[f"ndcg@{k}"] > best_val:
            best_recency, best_val = recency, metrics[f"ndcg@{k}"]
    # The ranker learns from half the validation users, its effect is checked on the other half.
    val_model = model_fit(fit_part, item_ids, best_l2, recency=best_recency)
    users = sorted(val_rel)
    half_a = {u: val_rel[u] for u in users[::2]}
    half_b = {u: val_rel[u] for u in users[1::2]}
    feats, labels, groups = training_samples(val_catalog, val_model, val_hist, half_a, seed=seed)
    ranker = ranker_fit(feats, labels, groups)
    val_model.ranker = ranker
    ranked_b, _ = evaluate(val_catalog, val_model, val_hist, half_b, k=k)
    collab_b, _ = evaluate(val_catalog, val_model, val_hist, half_b, k=k, strategy="collaborative")
    use_ranker = ranked_b[f"ndcg@{k}"] >= collab_b[f"ndcg@{k}"]
    log(
        f"  ranker on held-out validation users: ndcg@{k} {ranked_b[f'ndcg@{k}']:.4f} vs "
        f"collaborative only {collab_b[f'ndcg@{k}']:.4f}"
    )
    # Model selection on validation: keep the learned ranker only if it beat plain EASE order.
    chosen = ranker if use_ranker else Ranker.collaborative_only()
    final = model_fit(train, item_ids, best_l2, ranker=chosen, recency=best_recency)
    catalog = catalog_build(item_ids, texts, vectors, train)
    hist, rel = histories_of(train), relevant_of(test)
    ours, _ = evaluate(catalog, final, hist, rel, k=k, strategy="ranker")
    final.ranker = ranker
    learned, _ = evaluate(catalog, final, hist, rel, k=k, strategy="ranker")
    collab_only, _ = evaluate(catalog, final, hist, rel, k=k, strategy="collaborative")
    text_only, _ = evaluate(catalog, final, hist, rel, k=k, strategy="text")
    final.meta = {**final.meta, "recency": 0.0}  # the same model, every history item alike
    collab_flat, _ = evaluate(catalog, final, hist, rel, k=k, strategy="collaborative")
    popular = ranking_metrics(most_popular(train, sorted(rel), k), rel, k=k, n_items=len(item_ids))
    ratio = ours[f"ndcg@{k}"] / popular[f"ndcg@{k}"] if popular[f"ndcg@{k}"] else math.inf
    return {
        "split": protocol,
        "k": k,
        "users": len(rel),
        "items": len(item_ids),
        "l2": best_l2,
        "recency": best_recency,
        "ranker_weights": dict(
            zip(
                [
                    "intercept",
                    *[
                        f
                        for f in (
                            "collab",
                            "collab_rank",
                            "text",
                            "popularity",
                            "recency",
                            "price_fit",
                        )
                    ],
                ],
                [round(float(w), 4) for w in ranker.weights],
            )
        ),
        "ranker_helped_on_validation": bool(use_ranker),
        "validation_ndcg": {
            "learned_ranker": ranked_b[f"ndcg@{k}"],
            "collaborative_only": collab_b[f"ndcg@{k}"],
        },
        "ours": ours,
        "learned_ranker": learned,
        "ease_only": collab_only,
        "ease_no_recency": collab_flat,
        "text_only": text_only,
        "most_popular": popular,
        "ndcg_ratio_to_most_popular": ratio,
    }


METRIC_KEYS = ("ndcg@10", "precision@10", "recall@10", "map@10", "hr@10", "coverage")


def table_text(result: dict[str, Any]) -> str:
    rows = [
        ("ours (selected pipeline)", result["ours"]),
        ("learned ranker (forced)", result["learned_ranker"]),
        ("EASE only", result["ease_only"]),
        ("EASE, no recency weighting", result["ease_no_recency"]),
        ("text similarity only", result["text_only"]),
        ("MostPopular", result["most_popular"]),
    ]
    head = f"{'model':<30}" + "".join(f"{k:>14}" for k in METRIC_KEYS)
    lines = [
        f"MovieLens-100k, split={result['split']}, {result['users']} users, "
        f"{result['items']} items, EASE l2={result['l2']:g}, history recency "
        f"{result['recency']:g} (0 = off; both tuned on validation); ranker "
        f"{'learned' if result['ranker_helped_on_validation'] else 'collaborative-only'} "
        "(chosen on validation)",
        head,
        "-" * len(head),
    ]
    for name, metrics in rows:
        lines.append(f"{name:<30}" + "".join(f"{metrics.get(k, 0):>14.4f}" for k in METRIC_KEYS))
    lines.append(f"NDCG@10 ratio ours / MostPopular: {result['ndcg_ratio_to_most_popular']:.2f}")
    return "\n".join(lines)
