"""Recommender benchmark: MovieLens-100k quality (random 75/25) and serving latency on
synthetic catalogs of 10k and 100k items.

    python -m bench recommender            (through the harness)
    python -m bench.recommender            (directly; prints the JSON)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.embedder import shared_embedder
from mlcore.index import VectorIndex
from mlcore.recommend import (
    Catalog,
    CollabModel,
    HistoryEntry,
    Ranker,
    RecommenderModel,
    Rules,
    recommend,
)

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "movielens-100k"


def _quality() -> dict[str, Any]:
    # setup: the apps can be imported only after django.setup()
    from apps.recommender.movielens import run

    embedder = shared_embedder(device="cpu")
    started = time.monotonic()
    result = run(DATASET, protocol="random", embed=embedder.embed)
    return {
        "ndcg@10": round(result["ours"]["ndcg@10"], 4),
        "precision@10": round(result["ours"]["precision@10"], 4),
        "recall@10": round(result["ours"]["recall@10"], 4),
        "map@10": round(result["ours"]["map@10"], 4),
        "hr@10": round(result["ours"]["hr@10"], 4),
        "coverage": round(result["ours"]["coverage"], 4),
        "learned_ranker_forced_ndcg@10": round(result["learned_ranker"]["ndcg@10"], 4),
        "ease_only_ndcg@10": round(result["ease_only"]["ndcg@10"], 4),
        "most_popular_ndcg@10": round(result["most_popular"]["ndcg@10"], 4),
        "ratio_to_most_popular": round(result["ndcg_ratio_to_most_popular"], 3),
        "l2": result["l2"],
        "ranker": "learned" if result["ranker_helped_on_validation"] else "collaborative_only",
        "seconds": round(time.monotonic() - started, 1),
    }


def _latency(n_items: int, calls: int = 300, seed: int = 0) -> dict[str, float | str]:
    """p50/p95 of one recommend() call (candidates, features, ranker, rules, reasons) on a
    synthetic catalog: random unit text vectors in a FAISS index, top-100 collaborative
    neighbours per item, histories of 20 items. Database reads are not included."""

    rng = np.random.default_rng(seed)
    dim = 384
    ids = np.arange(1, n_items + 1, dtype=np.int64)
    # Clustered vectors, like real product text (random ones make HNSW unrealistically hard).
    centres = rng.standard_normal((200, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 200, n_items)] + 0.6 * rng.standard_normal(
        (n_items, dim)
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(dim, use_gpu=False)
    index.add(ids, vectors)
    index.build()
    keep = 100
    collab = CollabModel(
        item_ids=ids,
        nbr_idx=rng.integers(0, n_items, (n_items, keep)).astype(np.int32),
        nbr_val=rng.random((n_items, keep)).astype(np.float32),
    )
    catalog = Catalog(
        ids=ids,
        vectors=vectors,
        titles=[f"item {i}" for i in ids],
        category=np.array([f"c{i % 20}" for i in ids], dtype=object),
        price=rng.uniform(5, 300, n_items),
        age_days=rng.uniform(0, 400, n_items),
        available=rng.random(n_items) > 0.05,
        boost=np.zeros(n_items),
        popularity=rng.pareto(1.5, n_items),
    )
    model = RecommenderModel(collab=collab, ranker=Ranker.default())

    def text_search(vector: np.ndarray, k: int) -> list[int]:
        return [hit.id for hit in index.search(vector, k)[0]]

    timings = []
    for call in range(calls + 20):
        history = [HistoryEntry(int(i), 1.0, "view") for i in rng.choice(ids, 20, replace=False)]
        started = time.perf_counter()
        recommend(
            catalog=catalog,
            model=model,
            history=history,
            n=10,
            rules=Rules(diversity=0.2),
            text_search=text_search,
        )
        if call >= 20:  # warm-up calls excluded
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
        "index": index.kind,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: the apps can be imported only after django.setup()
    import django

    django.setup()
    argv = list(argv or [])
    results: dict[str, Any] = {}
    notes = []
    if DATASET.is_dir():
        quality = _quality()
        results["movielens_random"] = quality
        target = "met" if quality["ndcg@10"] >= 0.48 else "MISSED"
        notes.append(
            f"ML-100k random 75/25 (seed 42): NDCG@10 {quality['ndcg@10']} (target >= 0.48: "
            f"{target}), {quality['ratio_to_most_popular']}x MostPopular "
            f"({quality['most_popular_ndcg@10']}). The ranker used is the one chosen on a "
            f"validation split carved from train ({quality['ranker']}); the learned ranker "
            f"forced on gives {quality['learned_ranker_forced_ndcg@10']}."
        )
    else:
        notes.append(f"MovieLens-100k not found at {DATASET}: quality skipped")
    sizes = [10_000] if "--quick" in argv else [10_000, 100_000]
    for n in sizes:
        results[f"latency_{n // 1000}k"] = _latency(n)
    lat = results["latency_10k"]
    notes.append(
        f"latency at 10k items p95 {lat['p95_ms']} ms (target <= 20 ms: "
        f"{'met' if lat['p95_ms'] <= 20 else 'MISSED'}); engine call only, no database reads."
    )
    return {
        "title": "Recommender: MovieLens-100k quality and serving latency",
        "results": results,
        "notes": " ".join(notes),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
