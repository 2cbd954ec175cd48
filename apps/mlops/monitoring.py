"""Serving metrics per model: request count, latency, errors, predictions and confidences.

Counters live in prometheus_client (exported on /metrics by django-prometheus) for scraping.
The model pages need the same numbers from every process, so each call is also added to an
in-process buffer per (model, version, minute) that is flushed to `PredictionStat` rows: in a
short background thread every `ML_MONITOR_FLUSH_SECONDS` (default 15 s; 0 turns the automatic
flush off, the default when Celery runs eagerly as in tests) and whenever a page asks.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from prometheus_client import Counter, Histogram

from .models import PredictionStat

log = logging.getLogger(__name__)

LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONFIDENCE_BOUNDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

REQUESTS = Counter("textsuite_model_requests_total", "Inference calls", ["model"])
ERRORS = Counter("textsuite_model_errors_total", "Failed inference calls", ["model"])
ITEMS = Counter("textsuite_model_items_total", "Texts or items scored", ["model"])
LATENCY = Histogram(
    "textsuite_model_latency_seconds",
    "Inference latency per call",
    ["model"],
    buckets=LATENCY_BOUNDS,
)
PREDICTIONS = Counter("textsuite_model_predictions_total", "Predicted labels", ["model", "label"])
CONFIDENCE = Histogram(
    "textsuite_model_confidence", "Top-label probability", ["model"], buckets=CONFIDENCE_BOUNDS
)

_recent: dict[str, deque[tuple[float, str, float]]] = {}
_recent_latency: dict[str, deque[float]] = {}
_lock = threading.Lock()
WINDOW = 5000

# The version each model is served at in this process (set by apps.mlops.services.model_load).
_serving_versions: dict[str, int] = {}


def bucket_index(bounds: Sequence[float], value: float) -> int:
    """Index of the first bound >= value; len(bounds) for the overflow bucket."""
    for i, bound in enumerate(bounds):
        if value <= bound:
            return i
    return len(bounds)


@dataclass
class _Minute:
    requests: int = 0
    errors: int = 0
    items: int = 0
    latency_sum: float = 0.0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    labels: dict[str, int] = field(default_factory=dict)
    confidence_buckets: list[int] = field(
        default_factory=lambda: [0] * (len(CONFIDENCE_BOUNDS) + 1)
    )

    def merge(self, other: _Minute) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.items += other.items
        self.latency_sum += other.latency_sum
        self.latency_buckets = [a + b for a, b in zip(self.latency_buckets, other.latency_buckets)]
        self.confidence_buckets = [
            a + b for a, b in zip(self.confidence_buckets, other.confidence_buckets)
        ]
        for label, count in other.labels.items():
            self.labels[label] = self.labels.get(label, 0) + count


_buffer: dict[tuple[str, int, int], _Minute] = {}
_flush_lock = threading.Lock()
_last_flush = time.monotonic()
_flusher: threading.Thread | None = None
PROCESS = f"{socket.gethostname()}:{os.getpid()}"[:100]


def serving_version_note(model: str, version: int) -> None:
    """Remember which version this process serves, so its statistics are filed under it."""
    _serving_versions[model] = version


def inference_observe(
    *,
    model: str,
    seconds: float,
    n_items: int = 1,
    predictions: Sequence[tuple[str, float]] = (),
    error: bool = False,
) -> None:
    """Record one inference call: its latency, its items and (label, confidence) predictions."""
    REQUESTS.labels(model).inc()
    LATENCY.labels(model).observe(seconds)
    ITEMS.labels(model).inc(n_items)
    if error:
        ERRORS.labels(model).inc()
    now = time.time()
    key = (model, _serving_versions.get(model, 0), int(now // 60))
    with _lock:
        _recent_latency.setdefault(model, deque(maxlen=WINDOW)).append(seconds)
        window = _recent.setdefault(model, deque(maxlen=WINDOW))
        minute = _buffer.setdefault(key, _Minute())
        minute.requests += 1
        minute.errors += int(error)
        minute.items += n_items
        minute.latency_sum += seconds
        minute.latency_buckets[bucket_index(LATENCY_BOUNDS, seconds)] += 1
        for label, confidence in predictions:
            PREDICTIONS.labels(model, label).inc()
            CONFIDENCE.labels(model).observe(confidence)
            window.append((now, label, confidence))
            minute.labels[label] = minute.labels.get(label, 0) + 1
            minute.confidence_buckets[bucket_index(CONFIDENCE_BOUNDS, confidence)] += 1
    _maybe_flush_in_background()


@contextmanager
def inference_timer(model: str, n_items: int = 1) -> Iterator[list[tuple[str, float]]]:
    """`with inference_timer("sentiment", n) as preds: ...; preds.extend(...)` records the call."""
    predictions: list[tuple[str, float]] = []
    started = time.perf_counter()
    try:
        yield predictions
    except Exception:
        inference_observe(
            model=model, seconds=time.perf_counter() - started, n_items=n_items, error=True
        )
        raise
    inference_observe(
        model=model,
        seconds=time.perf_counter() - started,
        n_items=n_items,
        predictions=predictions,
    )


def recent_predictions(model: str) -> list[tuple[float, str, float]]:
    with _lock:
        return list(_recent.get(model, ()))


def recent_latencies(model: str) -> list[float]:
    with _lock:
        return list(_recent_latency.get(model, ()))


# -- persisting --------------------------------------------------------------------------------
def _flush_interval() -> float:

    # No background writes inside a test run (they would race the tests' own transactions);
    # tests flush explicitly. Eager Celery means the same kind of in-process, synchronous run.
    synchronous = getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or "_pytest" in sys.modules
    default = 0 if synchronous else 15
    return float(getattr(settings, "ML_MONITOR_FLUSH_SECONDS", default))


def _maybe_flush_in_background() -> None:
    global _flusher, _last_flush
    interval = _flush_interval()
    if interval <= 0 or time.monotonic() - _last_flush < interval:
        return
    with _lock:
        if _flusher is not None and _flusher.is_alive():
            return
        _last_flush = time.monotonic()
        # A thread, because inference may run inside an event loop where the ORM may not.
        _flusher = threading.Thread(target=_flush_and_close, name="mlops-monitor", daemon=True)
        _flusher.start()


def _flush_and_close() -> None:

    try:
        monitoring_flush()
    except Exception:
        log.warning("could not flush prediction statistics", exc_info=True)
    finally:
        connection.close()


def monitoring_flush() -> int:
    """Write this process's buffered statistics to `PredictionStat`; returns the rows touched.

    If the database refuses, the numbers go back into the buffer for the next flush.
    """

    global _buffer
    with _flush_lock:
        with _lock:
            pending, _buffer = _buffer, {}
        written: set[tuple[str, int, int]] = set()
        try:
            for (model, version, minute_no), acc in pending.items():
                row, _ = PredictionStat.objects.get_or_create(
                    name=model,
                    version=version,
                    minute=datetime.fromtimestamp(minute_no * 60, tz=UTC),
                    process=PROCESS,
                )
                stored = _Minute(
                    requests=row.requests,
                    errors=row.errors,
                    items=row.items,
                    latency_sum=row.latency_sum,
                    latency_buckets=row.latency_buckets or [0] * (len(LATENCY_BOUNDS) + 1),
                    labels=dict(row.labels or {}),
                    confidence_buckets=row.confidence_buckets or [0] * (len(CONFIDENCE_BOUNDS) + 1),
                )
                stored.merge(acc)
                PredictionStat.objects.filter(pk=row.pk).update(
                    requests=stored.requests,
                    errors=stored.errors,
                    items=stored.items,
                    latency_sum=stored.latency_sum,
                    latency_buckets=stored.latency_buckets,
                    labels=stored.labels,
                    confidence_buckets=stored.confidence_buckets,
                )
                written.add((model, version, minute_no))
        except Exception:
            with _lock:
                for key, acc in pending.items():
                    if key not in written:
                        _buffer.setdefault(key, _Minute()).merge(acc)
            raise
    return len(pending)


def monitoring_reset() -> None:
    """Drop this process's buffered statistics (tests and benchmarks)."""
    with _lock:
        _buffer.clear()
        _recent.clear()
        _recent_latency.clear()


def _flush_at_exit() -> None:
    if _buffer and _flush_interval() > 0:
        try:
            monitoring_flush()
        except Exception:
            log.debug("could not flush prediction statistics at exit", exc_info=True)


atexit.register(_flush_at_exit)
