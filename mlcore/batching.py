"""Micro-batching: concurrent requests for one model in one process share a forward pass.

A `MicroBatcher` owns one worker thread. Callers (any thread, or asyncio through `acall`)
put their rows on a queue and wait on a future; the worker takes the first waiting request,
gathers more for at most `max_wait_ms` or until `max_batch` rows, runs the model once on all
of them and hands each caller its own rows, in its own order. No caller holds a lock while the
model runs: a request that arrives meanwhile queues for the next batch. The model runs on the
worker's thread, so it must not rely on the caller's thread (a database connection, say).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class BatchConfig:
    """How long the first request of a batch may wait for company, and how many rows a batch
    holds at most; `enabled=False` calls the model directly, one request at a time."""

    max_batch: int = 32
    max_wait_ms: float = 5.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {self.max_batch}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be 0 or more, got {self.max_wait_ms}")


class BatcherClosed(RuntimeError):
    """The batcher was closed; it takes no new requests."""


class BatchTimeout(TimeoutError):
    """A caller's rows were not computed within its timeout (the batch goes on without it)."""


@dataclass
class _Request(Generic[In, Out]):
    rows: list[In]
    future: Future[list[Out]]


_STOP = object()


class MicroBatcher(Generic[In, Out]):
    """Coalesces concurrent calls of `run(rows) -> one output per row` into micro-batches."""

    def __init__(
        self,
        run: Callable[[list[In]], Iterable[Out]],
        config: BatchConfig | None = None,
        *,
        name: str = "model",
    ) -> None:
        self.run = run
        self.config = config or BatchConfig()
        self.name = name
        self.batches = 0  # model calls made, for tests and the bench
        self.rows_done = 0
        self._queue: queue.SimpleQueue[_Request[In, Out] | object] = queue.SimpleQueue()
        self._closed = False
        self._state = threading.Lock()  # guards _closed and the start of the worker only
        self._worker: threading.Thread | None = None
        self._pid = os.getpid()

    # -- callers -------------------------------------------------------------------------------
    def submit(self, rows: Sequence[In]) -> Future[list[Out]]:
        """Queue `rows` as one request; the future gets their outputs, in order."""
        future: Future[list[Out]] = Future()
        if not rows:
            future.set_result([])
            return future
        if threading.current_thread() is self._worker:
            # The model itself asked for rows (a nested call): waiting for the queue it is
            # serving would deadlock, so it runs them here.
            future.set_result(self._run_checked(list(rows)))
            return future
        with self._state:
            if self._closed:
                raise BatcherClosed(f"the {self.name} batcher is closed")
            self._ensure_worker()
            self._queue.put(_Request(list(rows), future))
        return future

    def call(self, rows: Sequence[In], timeout: float | None = None) -> list[Out]:
        """Outputs of `rows` (blocking); BatchTimeout after `timeout` seconds."""
        future = self.submit(rows)
        try:
            return future.result(timeout)
        except FutureTimeout:
            # Cancelled while queued: the worker skips it. Already running: its result is
            # dropped. Either way the other requests of the batch are untouched.
            future.cancel()
            raise BatchTimeout(f"{self.name}: no result within {timeout} s") from None

    async def acall(self, rows: Sequence[In], timeout: float | None = None) -> list[Out]:
        """`call` for asyncio code: awaits the batch without blocking the event loop."""
        future = self.submit(rows)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()
            raise BatchTimeout(f"{self.name}: no result within {timeout} s") from None

    def close(self, timeout: float | None = 30.0) -> None:
        """Take no new requests; the worker finishes every queued one, then stops."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            worker = self._worker if self._pid == os.getpid() else None
            self._queue.put(_STOP)
        if worker is not None:
            worker.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the worker ----------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        # A forked child (a Celery prefork worker) inherits the object but not the thread, and
        # may inherit requests queued in the parent: it starts afresh with its own queue.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._queue = queue.SimpleQueue()
            self._worker = None
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=self._loop, name=f"batcher-{self.name}", daemon=True
            )
            self._worker.start()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Request[In, Out]] = [first]  # type: ignore[list-item]
            size = len(batch[0].rows)
            deadline = time.monotonic() + self.config.max_wait_ms / 1000
            while size < self.config.max_batch:
                left = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True  # drain: what was queued before close still gets its rows
                    break
                batch.append(item)  # type: ignore[arg-type]
                size += len(item.rows)  # type: ignore[attr-defined]
            self._batch_run(batch)
        # Anything left behind the stop marker (queued before close took effect) is served too.
        rest: list[_Request[In, Out]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)  # type: ignore[arg-type]
        for start in range(0, len(rest), max(1, self.config.max_batch)):
            self._batch_run(rest[start : start + self.config.max_batch])

    def _batch_run(self, batch: list[_Request[In, Out]]) -> None:
        # A request whose caller gave up (cancelled) is dropped before the model sees it.
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        rows = [row for request in live for row in request.rows]
        try:
            outputs = self._run_checked(rows)
        except BaseException as exc:
            if len(live) == 1:
                live[0].future.set_exception(exc)
                return
            # Rerun request by request: a row the model cannot take fails only its own caller,
            # and a model-wide failure still reaches every caller of this batch.
            log.warning(
                "%s: a batch of %d requests failed (%r); rerunning each", self.name, len(live), exc
            )
            for request in live:
                try:
                    request.future.set_result(self._run_checked(request.rows))
                except BaseException as one:
                    request.future.set_exception(one)
            return
        start = 0
        for request in live:
            request.future.set_result(outputs[start : start + len(request.rows)])
            start += len(request.rows)

    def _run_checked(self, rows: list[In]) -> list[Out]:
        outputs = list(self.run(rows))
        self.batches += 1
        self.rows_done += len(rows)
        if len(outputs) != len(rows):
            raise RuntimeError(
                f"{self.name}: the model returned {len(outputs)} outputs for {len(rows)} rows"
            )
        return outputs


def batched_call(
    batcher: MicroBatcher[In, Out] | None,
    run: Callable[[list[In]], Iterable[Out]],
    rows: Sequence[In],
    timeout: float | None = None,
) -> list[Out]:
    """Through `batcher` when there is one and the request fits a batch; else `run` directly
    (a request of max_batch rows or more gains nothing from waiting for company)."""
    if batcher is None or not batcher.config.enabled or len(rows) >= batcher.config.max_batch:
        return list(run(list(rows)))
    return batcher.call(rows, timeout)
