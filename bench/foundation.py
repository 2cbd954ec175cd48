"""Embedding throughput (Embedder vs SentenceTransformer.encode) and FAISS vs numpy search.

python -m bench foundation [--texts N] [--sizes 10000,100000] [--queries Q]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.base_models import base_model_path
from mlcore.embedder import Embedder
from mlcore.index import VectorIndex

BANKING = Path(__file__).resolve().parents[1].parent / "shared/datasets/banking77/train.csv"


def sample_texts(n: int) -> tuple[list[str], str]:
    if BANKING.exists():
        with BANKING.open() as fh:
            rows = [r["text"] for r in csv.DictReader(fh)]
        return rows[:n], "banking77 train queries"
    rng = np.random.default_rng(0)
    words = [
        "card",
        "transfer",
        "fee",
        "account",
        "balance",
        "pending",
        "refund",
        "exchange",
        "rate",
        "top",
        "up",
        "pin",
        "atm",
    ]
    return [" ".join(rng.choice(words, size=rng.integers(5, 20))) for _ in range(n)], "synthetic"


def bench_embedding(n: int) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    texts, source = sample_texts(n)
    ours = Embedder(device="cpu", batch_size=64)
    ref = SentenceTransformer(str(base_model_path()), device="cpu")
    ours.embed(texts[:64])
    ref.encode(texts[:64], batch_size=64)
    started = time.perf_counter()
    a = ours.embed(texts)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    b = ref.encode(texts, batch_size=64, normalize_embeddings=True)
    ref_s = time.perf_counter() - started
    return {
        "texts": len(texts),
        "source": source,
        "embedder_texts_per_s": round(len(texts) / ours_s, 1),
        "sentence_transformers_texts_per_s": round(len(texts) / ref_s, 1),
        "ratio": round(ref_s / ours_s, 3),
        "max_abs_diff": float(np.abs(a - b).max()),
    }


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors with a low intrinsic dimension plus noise, like sentence embeddings.

    (Isotropic 384-d noise has no neighbourhood structure at all; real embeddings do.)
    """
    projection = np.random.default_rng(5).normal(size=(48, dim))
    latent = rng.normal(size=(n, 48))
    latent[:, :8] *= 3
    data = latent @ projection + 2.0 * rng.normal(size=(n, dim))
    vectors: np.ndarray = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    return vectors


def real_vectors(n_queries: int) -> tuple[np.ndarray, np.ndarray] | None:
    """banking77 train queries embedded with the real MiniLM (about 10k), when available."""
    if not BANKING.exists():
        return None
    texts, _ = sample_texts(20000)
    vectors = Embedder(device="cpu").embed(texts)
    return vectors[n_queries:], vectors[:n_queries]


def bench_search(
    size: int, n_queries: int, dim: int = 384, real: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    if real is not None:
        data, queries = real
        size = len(data)
    else:
        data = synthetic_vectors(size, dim, rng)
        queries = synthetic_vectors(n_queries, dim, rng)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]

    started = time.perf_counter()
    for q in queries:
        scores = data @ q
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
    numpy_qps = n_queries / (time.perf_counter() - started)

    out: dict[str, Any] = {
        "vectors": size,
        "queries": n_queries,
        "data": "banking77 MiniLM embeddings" if real is not None else "synthetic low-rank + noise",
        "numpy_brute_force_qps": round(numpy_qps, 1),
    }
    for label, exact_max in (("faiss_flat", size + 1), ("faiss_hnsw", 0)):
        index = VectorIndex(dim, exact_max=exact_max)
        started = time.perf_counter()
        index.add(np.arange(size), data)
        index.build()
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        found = [index.search(q, k=10)[0] for q in queries]
        qps = n_queries / (time.perf_counter() - started)
        recall = np.mean(
            [len({h.id for h in f} & set(t.tolist())) / 10 for f, t in zip(found, truth)]
        )
        out[label] = {
            "kind": index.kind,
            "qps": round(qps, 1),
            "recall@10": round(recall, 4),
            "build_s": round(build_s, 2),
            "speedup_vs_numpy": round(qps / numpy_qps, 2),
        }
    return out


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench foundation")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"embedding": bench_embedding(args.texts)}
    real = real_vectors(args.queries)
    if real is not None:
        results["search_real"] = bench_search(len(real[0]), args.queries, real=real)
    for size in (int(s) for s in args.sizes.split(",")):
        results[f"search_{size}"] = bench_search(size, args.queries)
    emb = results["embedding"]
    rows = [
        "| vectors | data | numpy q/s | FAISS flat q/s (recall@10) | FAISS HNSW q/s (recall@10) |",
        "|---|---|---|---|---|",
    ]
    for key, value in results.items():
        if key.startswith("search_"):
            rows.append(
                f"| {value['vectors']} | {value['data']} | {value['numpy_brute_force_qps']} | "
                f"{value['faiss_flat']['qps']} ({value['faiss_flat']['recall@10']}) | "
                f"{value['faiss_hnsw']['qps']} ({value['faiss_hnsw']['recall@10']}) |"
            )
    notes = (
        f"Embedder {emb['embedder_texts_per_s']} texts/s vs SentenceTransformer.encode "
        f"{emb['sentence_transformers_texts_per_s']} texts/s on {emb['texts']} "
        f"{emb['source']} (ratio {emb['ratio']}x, max |diff| {emb['max_abs_diff']:.1e}). "
        "Search: one query at a time through VectorIndex.search (ids, locking, Hit objects "
        "included), k=10, 384-d unit vectors; recall@10 against exact numpy results."
    )
    return {
        "title": "Foundation: embedding throughput and vector search",
        "results": results,
        "notes": notes,
        "table": "\n".join(rows),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(main(sys.argv[1:])["results"], indent=2))
