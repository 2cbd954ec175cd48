"""The micro-batcher in one process, without the web stack: threads asking for one embedding each.

    python -m bench engine_batching [--seconds 8] [--threads 1,8,32,64]

Side by side in the same run, each at the same number of threads asking back to back: plain
sentence-transformers (`SentenceTransformer.encode` of one text per call), the project's
embedder called directly (one forward pass per request, as with ML_BATCHING=0), and the same
embedder behind `mlcore.batching.MicroBatcher` (the defaults of ML_BATCH_MAX_SIZE and
ML_BATCH_MAX_WAIT_MS).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.support import SUPPORT_QUESTIONS
from mlcore.base_models import base_model_path
from mlcore.batching import BatchConfig, MicroBatcher


def _load(ask: Callable[[str], Any], threads: int, seconds: float) -> dict[str, float]:
    """`threads` callers asking back to back for `seconds`; texts/s and latency percentiles."""
    latencies: list[float] = []
    guard = threading.Lock()
    stop = time.perf_counter() + seconds

    def caller(n: int) -> None:
        i = n
        while time.perf_counter() < stop:
            started = time.perf_counter()
            ask(SUPPORT_QUESTIONS[i % len(SUPPORT_QUESTIONS)])
            took = time.perf_counter() - started
            with guard:
                latencies.append(took)
            i += 1

    workers = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
    }


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench engine_batching")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", default="1,8,32,64")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    # heavy: sentence-transformers and mlcore.embedder load torch
    from sentence_transformers import SentenceTransformer

    from mlcore.embedder import Embedder

    load_start = [round(v, 1) for v in os.getloadavg()]
    plain = SentenceTransformer(str(base_model_path()), device="cpu")
    embedder = Embedder(device="cpu")
    batcher: MicroBatcher[str, Any] = MicroBatcher(embedder.embed, BatchConfig(), name="embedder")
    paths: dict[str, Callable[[str], Any]] = {
        "plain_sentence_transformers": lambda t: plain.encode([t], normalize_embeddings=True),
        "embedder_unbatched": lambda t: embedder.embed([t]),
        "embedder_batched": lambda t: batcher.call([t], 60),
    }
    for ask in paths.values():  # warm each path once
        ask(SUPPORT_QUESTIONS[0])
    results: dict[str, Any] = {"load_average_at_start": load_start}
    for threads in (int(n) for n in args.threads.split(",")):
        for name, ask in paths.items():
            results[f"{name}_threads_{threads}"] = _load(ask, threads, args.seconds)
    batcher.close()
    results["batched_rows_per_model_call"] = round(batcher.rows_done / max(batcher.batches, 1), 2)
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    top = max(int(n) for n in args.threads.split(","))
    on = results[f"embedder_batched_threads_{top}"]["per_s"]
    off = results[f"embedder_unbatched_threads_{top}"]["per_s"]
    base = results[f"plain_sentence_transformers_threads_{top}"]["per_s"]
    notes = (
        f"At {top} threads: batched {on} texts/s, unbatched {off} ({on / max(off, 1e-9):.2f}x), "
        f"plain sentence-transformers {base} ({on / max(base, 1e-9):.2f}x). One text per request; "
        "torch's default threads. This machine has 2 cores shared with other engineers' builds "
        "and tests (load averages in the results)."
    )
    return {"title": "Engine: micro-batching in one process", "results": results, "notes": notes}
