"""Threads per model call in a web process (`ML_MODEL_THREADS`).

A web process runs its models on several threads at once: one micro-batcher per model (the
embedder and the intent classifier answer a question side by side) beside the request threads.
Every library pool defaulting to the core count made those calls compete for the same cores and
wake each other's pools:

- torch's and ONNX Runtime's intra-op pools, one per model call;
- numpy's OpenBLAS pool, woken by the small matrix products of a question (the intent model's
  neighbour vote, retrieval's scores), whose threads then spin waiting for the next product.

On 2 cores, one thread for each cut a lone customer's question from 61 to 26 ms of server CPU
and, with 50 customers asking once a second each, the p95 from 915 to 389 ms; OpenBLAS made
most of the difference (bench/RESULTS.md, "Threads per model call in the web process" and
"Which pool").

So a web process gives each of them one thread by default. Where the web process also trains
(the in-process worker of a single-process install, `CELERY_EMBEDDED_WORKER`), a training run
(torch, or numpy's solver for EASE) would get one core too, so there the libraries' defaults
(every core) stay. Workers never read this: training and bulk jobs use every core.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from threadpoolctl import threadpool_limits

# Read by torch (OpenMP) and by OpenBLAS builds when they load; a library loaded later (faiss's
# own OpenBLAS) follows them too.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def web_model_threads(settings: Any) -> int:
    """Threads for each model call of this web process; 0 leaves the libraries' defaults."""
    chosen = settings.ML_MODEL_THREADS
    if chosen is None:
        return 0 if settings.CELERY_EMBEDDED_WORKER else 1
    return int(chosen)


def model_threads_apply(threads: int) -> None:
    """Give each model call `threads` threads (0: unchanged); an explicit variable wins.

    ONNX Runtime's sessions take torch's count (mlcore.serving.sessions). torch, when already
    loaded, and the BLAS libraries already loaded (numpy's, during Django's set-up) are set
    directly."""
    if threads <= 0:
        return
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    threadpool_limits(limits=int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")
