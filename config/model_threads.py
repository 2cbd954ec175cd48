"""Threads per model call in a web process (`ML_MODEL_THREADS`).

A web process runs its models on several threads at once: one micro-batcher per model (the
embedder and the intent classifier answer a question side by side) beside the request threads.
Each model call spreading over every core as well (torch's and ONNX Runtime's intra-op pools,
which default to the core count) made the calls compete for the same cores and wake each
other's pools: on 2 cores a question cost 32 ms of server CPU with 2 threads per call against
24 ms with 1, a lone customer's question 57 ms against 26 ms, at the same latency
(bench/RESULTS.md, "Threads per model call in the web process").

So a web process gives each model call one thread by default. Where the web process also trains
(the in-process worker of a single-process install, `CELERY_EMBEDDED_WORKER`), a training run
would get one core too, so there the libraries' default (every core) stays. Workers never read
this: training and bulk jobs use every core.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def web_model_threads(settings: Any) -> int:
    """Threads for each model call of this web process; 0 leaves the libraries' default."""
    chosen = settings.ML_MODEL_THREADS
    if chosen is None:
        return 0 if settings.CELERY_EMBEDDED_WORKER else 1
    return int(chosen)


def model_threads_apply(threads: int) -> None:
    """Give each model call `threads` threads (0: unchanged). An explicit OMP_NUM_THREADS wins.

    torch reads OMP_NUM_THREADS when it loads, and ONNX Runtime's sessions take torch's count
    (mlcore.serving.sessions), so both follow; a torch already loaded is set directly."""
    if threads <= 0:
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
