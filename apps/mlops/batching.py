"""The process's micro-batchers, one per served model, configured from settings.

Web processes (sync views and channels consumers, both on threads) and Celery workers call
`rows_batched` alike: concurrent requests for the same model object coalesce into one forward
pass (mlcore.batching). When a promotion swaps the object, its batcher is closed (it drains
what it holds) and the new object gets a fresh one.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.conf import settings

from mlcore.batching import BatchConfig, BatcherClosed, MicroBatcher, batched_call

from .waiting import db_connection_release

log = logging.getLogger(__name__)
_batchers: dict[str, tuple[Any, MicroBatcher[Any, Any]]] = {}
_guard = threading.Lock()  # held to look up or create a batcher, never while a model runs


def batch_config() -> BatchConfig:
    """The batching settings (ML_BATCHING, ML_BATCH_MAX_SIZE, ML_BATCH_MAX_WAIT_MS)."""
    return BatchConfig(
        max_batch=settings.ML_BATCH_MAX_SIZE,
        max_wait_ms=settings.ML_BATCH_MAX_WAIT_MS,
        enabled=settings.ML_BATCHING,
    )


def _batcher(name: str, model: Any, run: Callable[[list[Any]], Any]) -> MicroBatcher[Any, Any]:
    with _guard:
        held = _batchers.get(name)
        if held is not None and held[0] is model and not held[1].closed:
            return held[1]
        batcher: MicroBatcher[Any, Any] = MicroBatcher(run, batch_config(), name=name)
        _batchers[name] = (model, batcher)
    if held is not None:
        held[1].close(timeout=0)  # the replaced model's batcher drains on its own thread
    return batcher


def rows_batched(
    name: str, model: Any, rows: Sequence[Any], run: Callable[[list[Any]], Any]
) -> np.ndarray:
    """`run(rows)` as one array (a row per input), shared with concurrent callers of `model`.

    `name` says which model it is (one batcher per name); `model` is the object `run` uses,
    so a newly promoted object gets its own batcher. With ML_BATCHING off, or for a request of
    ML_BATCH_MAX_SIZE rows or more, `run` is called directly.

    The caller's pooled database connection goes back to the pool first (outside a
    transaction): the wait for the model, batched or not, holds no connection that another
    request needs (apps/mlops/waiting.py); the caller's next query takes one again.
    """
    config = batch_config()
    if rows:
        db_connection_release()
    if not config.enabled or len(rows) >= config.max_batch or not rows:
        return np.asarray(run(list(rows)))
    try:
        out = batched_call(
            _batcher(name, model, run), run, rows, timeout=settings.ML_BATCH_TIMEOUT_S
        )
    except BatcherClosed:  # swapped out between the lookup and the submit
        return np.asarray(run(list(rows)))
    return np.stack(out)


def batchers_close(*, report: bool = True) -> None:
    """Close every batcher of this process; each finishes what it holds first."""
    with _guard:
        held = list(_batchers.values())
        _batchers.clear()
    for _model, batcher in held:
        batcher.close()
        if report and batcher.batches:
            log.info(
                "batcher %s: %d rows in %d model calls (%.1f rows a call)",
                batcher.name,
                batcher.rows_done,
                batcher.batches,
                batcher.rows_done / batcher.batches,
            )


def batchers_stats() -> dict[str, dict[str, int]]:
    """Model calls and rows per batcher of this process (the bench reads them)."""
    with _guard:
        return {
            name: {"batches": b.batches, "rows": b.rows_done} for name, (_m, b) in _batchers.items()
        }


def _batchers_close_at_exit() -> None:
    # At exit a test runner may have closed the streams the log writes to: report only where
    # every handler can still write (daphne's and the workers' consoles can).
    handlers = logging.getLogger().handlers
    writable = all(not getattr(getattr(h, "stream", None), "closed", False) for h in handlers)
    batchers_close(report=writable)


atexit.register(_batchers_close_at_exit)
