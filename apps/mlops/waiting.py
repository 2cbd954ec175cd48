"""Requests that wait for a model: what they hold while waiting, and how many may wait.

A question to the bot reads a row or two, then waits for the models (a micro-batch, maybe a
queue of them), then writes. Two rules keep that wait from turning into errors under load:

- **The database connection goes back to the pool during the wait.** With a pool of
  DATABASE_POOL_MAX connections a process, a request that kept its connection through the model
  wait made every request beyond the pool wait for a connection, and after
  DATABASE_POOL_TIMEOUT_S fail with a 500. `db_connection_release` hands the thread's pooled
  connection back (never inside a transaction); the next query takes one again.
- **Work is refused early instead of queueing without end.** A request path that will wait for
  a model enters `model_request_admit()` before it reads or stores anything; past
  ML_MAX_WAITING_REQUESTS such requests in this process it raises `ModelsBusy`, which the web
  layer answers with a 503 and Retry-After (the chat widget says it is busy and retries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

# Seconds a refused client is told to wait: about what a full queue of batches takes to drain.
RETRY_AFTER_S = 2
BUSY_TEXT = "The assistant is busy answering many questions at once; please try again in a moment."


class ModelsBusy(Exception):
    """Too many requests of this process already wait for a model: try again later."""

    def __init__(self, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(BUSY_TEXT)
        self.retry_after = retry_after


_admitted = 0
_admitted_lock = threading.Lock()


@contextmanager
def model_request_admit() -> Iterator[None]:
    """Hold one of the process's ML_MAX_WAITING_REQUESTS places for a request that will wait
    for a model; raises ModelsBusy when every place is taken (0: no bound)."""
    global _admitted
    bound = settings.ML_MAX_WAITING_REQUESTS
    with _admitted_lock:
        if bound and _admitted >= bound:
            raise ModelsBusy()
        _admitted += 1
    try:
        yield
    finally:
        with _admitted_lock:
            _admitted -= 1


def model_requests_admitted() -> int:
    """How many requests of this process hold a place now (tests, the bench)."""
    return _admitted


def db_connection_release() -> bool:
    """Hand this thread's pooled database connections back before waiting for a model.

    Only pooled connections (DATABASE_POOL_MAX set): a persistent connection of its own per
    thread blocks no one, and reopening it would cost a new login. Never inside a transaction
    (atomic block): closing would roll it back. True when a connection went back."""
    if not settings.DATABASE_POOL_RELEASE_ON_WAIT:
        return False
    released = False
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is None
            or connection.in_atomic_block
            or not connection.settings_dict.get("OPTIONS", {}).get("pool")
        ):
            continue
        connection.close()
        released = True
    return released
