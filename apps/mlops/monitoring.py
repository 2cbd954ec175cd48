"""Serving metrics per model: request count, latency, errors, predictions and confidences.

Counters live in prometheus_client (exported on /metrics by django-prometheus); the in-process
window of recent predictions feeds the drift comparison on the model pages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

REQUESTS = Counter("textsuite_model_requests_total", "Inference calls", ["model"])
ERRORS = Counter("textsuite_model_errors_total", "Failed inference calls", ["model"])
ITEMS = Counter("textsuite_model_items_total", "Texts or items scored", ["model"])
LATENCY = Histogram(
    "textsuite_model_latency_seconds", "Inference latency per call", ["model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter("textsuite_model_predictions_total", "Predicted labels", ["model", "label"])
CONFIDENCE = Histogram("textsuite_model_confidence", "Top-label probability", ["model"],
                       buckets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0))

_recent: dict[str, deque[tuple[float, str, float]]] = {}
_recent_latency: dict[str, deque[float]] = {}
_lock = threading.Lock()
WINDOW = 5000


def inference_observe(*, model: str, seconds: float, n_items: int = 1,
                      predictions: Sequence[tuple[str, float]] = (), error: bool = False) -> None:
    """Record one inference call: its latency, its items and (label, confidence) predictions."""
    REQUESTS.labels(model).inc()
    LATENCY.labels(model).observe(seconds)
    ITEMS.labels(model).inc(n_items)
    if error:
        ERRORS.labels(model).inc()
    now = time.time()
    with _lock:
        _recent_latency.setdefault(model, deque(maxlen=WINDOW)).append(seconds)
        window = _recent.setdefault(model, deque(maxlen=WINDOW))
        for label, confidence in predictions:
            PREDICTIONS.labels(model, label).inc()
            CONFIDENCE.labels(model).observe(confidence)
            window.append((now, label, confidence))


@contextmanager
def inference_timer(model: str, n_items: int = 1) -> Iterator[list[tuple[str, float]]]:
    """`with inference_timer("sentiment", n) as preds: ...; preds.extend(...)` records the call."""
    predictions: list[tuple[str, float]] = []
    started = time.perf_counter()
    try:
        yield predictions
    except Exception:
        inference_observe(model=model, seconds=time.perf_counter() - started, n_items=n_items,
                          error=True)
        raise
    inference_observe(model=model, seconds=time.perf_counter() - started, n_items=n_items,
                      predictions=predictions)


def recent_predictions(model: str) -> list[tuple[float, str, float]]:
    with _lock:
        return list(_recent.get(model, ()))


def recent_latencies(model: str) -> list[float]:
    with _lock:
        return list(_recent_latency.get(model, ()))
