"""The micro-batcher: concurrent requests coalesce, each caller gets its own rows in order,
batches respect their size, errors and timeouts stay with their callers, close drains."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mlcore.batching import BatchConfig, BatcherClosed, BatchTimeout, MicroBatcher, batched_call

HANG_GUARD_S = 60  # only stops a broken batcher from hanging the suite; nothing is timed


class GatedModel:
    """Doubles numbers; its first call waits on `gate`, so later requests queue meanwhile."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    def __call__(self, rows: list[int]) -> list[int]:
        self.calls.append(list(rows))
        if len(self.calls) == 1:
            self.started.set()
            assert self.gate.wait(HANG_GUARD_S)
        if self.fail_on is not None and self.fail_on in rows:
            raise ValueError(f"cannot take {self.fail_on}")
        return [2 * r for r in rows]


def _blocked(model: GatedModel, batcher: MicroBatcher[int, int]) -> None:
    """Start a first request and wait until the model is busy with it."""
    batcher.submit([-1])
    assert model.started.wait(HANG_GUARD_S)


def test_concurrent_callers_share_model_calls_and_each_gets_its_own_rows():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=64, max_wait_ms=2))
    _blocked(model, batcher)

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(batcher.call, [i], HANG_GUARD_S) for i in range(20)]
        while batcher._queue.qsize() < 20:  # every caller is waiting for its batch
            threading.Event().wait(0.01)
        model.gate.set()
        results = [f.result(HANG_GUARD_S) for f in futures]

    assert results == [[2 * i] for i in range(20)]
    assert len(model.calls) == 2  # the blocked first request, then all 20 together
    assert sorted(model.calls[1]) == list(range(20))


def test_each_callers_rows_come_back_in_its_own_order():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=64, max_wait_ms=2))
    _blocked(model, batcher)
    first = batcher.submit([5, 3, 9])
    second = batcher.submit([7, 1])

    model.gate.set()

    assert first.result(HANG_GUARD_S) == [10, 6, 18]
    assert second.result(HANG_GUARD_S) == [14, 2]
    assert model.calls[1] == [5, 3, 9, 7, 1]


def test_a_batch_never_holds_more_than_max_batch_rows():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=4, max_wait_ms=2))
    _blocked(model, batcher)
    futures = [batcher.submit([i]) for i in range(10)]

    model.gate.set()

    assert [f.result(HANG_GUARD_S) for f in futures] == [[2 * i] for i in range(10)]
    assert [len(call) for call in model.calls[1:]] == [4, 4, 2]


def test_requests_within_the_wait_fill_one_batch():
    calls: list[list[int]] = []
    batcher = MicroBatcher(
        lambda rows: calls.append(rows) or rows, BatchConfig(max_batch=3, max_wait_ms=30_000)
    )

    futures = [batcher.submit([i]) for i in range(3)]

    assert [f.result(HANG_GUARD_S) for f in futures] == [[0], [1], [2]]
    assert calls == [[0, 1, 2]]  # the third request filled the batch before the wait ran out


def test_a_lone_request_runs_after_the_wait_without_a_full_batch():
    calls: list[list[int]] = []
    batcher = MicroBatcher(
        lambda rows: calls.append(rows) or rows, BatchConfig(max_batch=1000, max_wait_ms=5)
    )

    assert batcher.call([42], HANG_GUARD_S) == [42]
    assert calls == [[42]]


def test_a_row_the_model_cannot_take_fails_only_its_own_caller():
    model = GatedModel(fail_on=13)
    batcher = MicroBatcher(model, BatchConfig(max_batch=64, max_wait_ms=2))
    _blocked(model, batcher)
    good_before = batcher.submit([1])
    bad = batcher.submit([13])
    good_after = batcher.submit([2, 3])

    model.gate.set()

    with pytest.raises(ValueError, match="cannot take 13"):
        bad.result(HANG_GUARD_S)
    assert good_before.result(HANG_GUARD_S) == [2]
    assert good_after.result(HANG_GUARD_S) == [4, 6]


def test_a_failing_model_reaches_every_caller_of_that_batch_and_no_other():
    broken = threading.Event()
    gate = threading.Event()
    started = threading.Event()

    def run(rows: list[int]) -> list[int]:
        if rows == [0]:
            started.set()
            assert gate.wait(HANG_GUARD_S)
        if broken.is_set():
            raise MemoryError("out of memory")
        return rows

    batcher = MicroBatcher(run, BatchConfig(max_batch=64, max_wait_ms=2))
    batcher.submit([0])
    assert started.wait(HANG_GUARD_S)
    victims = [batcher.submit([i]) for i in (1, 2)]
    broken.set()
    gate.set()
    for victim in victims:
        with pytest.raises(MemoryError):
            victim.result(HANG_GUARD_S)

    broken.clear()

    assert batcher.call([3], HANG_GUARD_S) == [3]


def test_a_caller_that_times_out_leaves_its_batch_unharmed():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=64, max_wait_ms=2))
    _blocked(model, batcher)
    patient = batcher.submit([4])

    with pytest.raises(BatchTimeout):
        batcher.call([99], timeout=0.05)
    model.gate.set()

    assert patient.result(HANG_GUARD_S) == [8]
    assert all(99 not in call for call in model.calls)  # the cancelled request never ran


def test_close_drains_queued_requests_and_refuses_new_ones():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=2, max_wait_ms=2))
    _blocked(model, batcher)
    queued = [batcher.submit([i]) for i in range(5)]
    closing = threading.Thread(target=batcher.close)
    closing.start()

    model.gate.set()
    closing.join(HANG_GUARD_S)

    assert [f.result(HANG_GUARD_S) for f in queued] == [[2 * i] for i in range(5)]
    with pytest.raises(BatcherClosed):
        batcher.submit([1])


def test_asyncio_callers_coalesce_without_blocking_the_loop():
    model = GatedModel()
    batcher = MicroBatcher(model, BatchConfig(max_batch=64, max_wait_ms=2))
    _blocked(model, batcher)

    async def ask_all() -> list[list[int]]:
        tasks = [asyncio.create_task(batcher.acall([i], HANG_GUARD_S)) for i in range(10)]
        while batcher._queue.qsize() < 10:
            await asyncio.sleep(0.01)  # the loop keeps running while callers wait
        model.gate.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(ask_all())

    assert results == [[2 * i] for i in range(10)]
    assert len(model.calls) == 2


def test_many_threads_calling_at_once_all_finish_with_their_own_rows():
    batcher = MicroBatcher(
        lambda rows: [r * 3 for r in rows], BatchConfig(max_batch=8, max_wait_ms=1)
    )
    rng = np.random.default_rng(3)
    requests = [list(rng.integers(0, 1000, size=int(rng.integers(1, 6)))) for _ in range(400)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda rows: batcher.call(rows, HANG_GUARD_S), requests))

    assert results == [[r * 3 for r in rows] for rows in requests]
    assert batcher.rows_done == sum(len(r) for r in requests)


def test_a_model_that_returns_the_wrong_number_of_rows_is_an_error():
    batcher = MicroBatcher(lambda rows: rows[:-1], BatchConfig(max_batch=8, max_wait_ms=1))

    with pytest.raises(RuntimeError, match="2 outputs for 3 rows"):
        batcher.call([1, 2, 3], HANG_GUARD_S)


def test_large_or_unbatched_requests_call_the_model_directly():
    calls: list[list[int]] = []
    batcher = MicroBatcher(lambda rows: calls.append(rows) or rows, BatchConfig(max_batch=4))

    assert batched_call(batcher, lambda rows: ["direct", *rows], [1, 2, 3, 4]) == [
        "direct", 1, 2, 3, 4,
    ]  # fmt: skip
    assert batched_call(None, lambda rows: ["direct", *rows], [1]) == ["direct", 1]
    assert batched_call(batcher, lambda rows: ["direct", *rows], [7]) == [7]
    assert calls == [[7]]


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        BatchConfig(max_batch=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        BatchConfig(max_wait_ms=-1)


@pytest.mark.slow
def test_concurrent_embeds_through_the_batcher_match_direct_embeds(embedder):
    texts = [
        "How long does card delivery take?",
        "Why was I charged a fee?",
        "My top up failed",
        "Can I change my PIN at an ATM?",
        "What exchange rate do you use for transfers abroad on weekends?",
        "close my account",
    ] * 4
    batcher = MicroBatcher(embedder.embed, BatchConfig(max_batch=32, max_wait_ms=20))

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        rows = list(pool.map(lambda t: batcher.call([t], HANG_GUARD_S)[0], texts))

    direct = embedder.embed(texts)
    if {embedder.form, embedder.bulk_form} <= {"fp32", "onnx-fp32"}:
        np.testing.assert_allclose(np.stack(rows), direct, atol=1e-5)
    else:
        # bf16 rounds with the padding of its batch, and micro-batches of different sizes may
        # run in different forms (mlcore.embedder.BULK_MIN_TEXTS): each row is still its own
        # text's (another text's vector is far below this).
        assert float(np.min(np.sum(np.stack(rows) * direct, axis=1))) >= 0.999
    assert batcher.batches < len(texts)


def test_a_model_that_calls_its_own_batcher_gets_its_rows_without_deadlock():
    holder: dict[str, MicroBatcher[int, int]] = {}

    def run(rows: list[int]) -> list[int]:
        if rows == [1]:
            return holder["b"].call([10], HANG_GUARD_S)  # a nested request from the model
        return [r + 1 for r in rows]

    holder["b"] = MicroBatcher(run, BatchConfig(max_batch=8, max_wait_ms=1))

    assert holder["b"].call([1], HANG_GUARD_S) == [11]
