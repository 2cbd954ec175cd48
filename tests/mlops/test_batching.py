"""The process's batchers from settings: shared per model object, replaced on promotion, off
when ML_BATCHING is off, and requests from many threads each get their own rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from apps.mlops import batching

HANG_GUARD_S = 60


class CountingModel:
    """Returns each number and its square as one row; remembers the batches it saw."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.first = threading.Event()
        self.gate = threading.Event()

    def predict(self, rows: list[int]) -> np.ndarray:
        self.calls.append(list(rows))
        if len(self.calls) == 1:
            self.first.set()
            assert self.gate.wait(HANG_GUARD_S)
        return np.array([[r, r * r] for r in rows], dtype=np.float32)


@pytest.fixture(autouse=True)
def _fresh_batchers(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.ML_BATCHING = True
    settings.ML_BATCH_MAX_SIZE = 32
    settings.ML_BATCH_MAX_WAIT_MS = 2.0
    batching.batchers_close()
    yield
    batching.batchers_close()


def test_concurrent_requests_for_one_model_share_forward_passes():
    model = CountingModel()

    def ask(i: int) -> np.ndarray:
        return batching.rows_batched("m", model, [i], model.predict)

    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(ask, i) for i in range(12)]
        assert model.first.wait(HANG_GUARD_S)
        model.gate.set()
        rows = [f.result(HANG_GUARD_S) for f in futures]

    assert [r.tolist() for r in rows] == [[[i, i * i]] for i in range(12)]
    assert len(model.calls) < 12
    assert batching.batchers_stats()["m"]["rows"] == 12


def test_a_promoted_model_object_gets_its_own_batcher():
    old, new = CountingModel(), CountingModel()
    old.gate.set()
    new.gate.set()

    batching.rows_batched("m", old, [1], old.predict)
    out = batching.rows_batched("m", new, [2], new.predict)

    assert out.tolist() == [[2, 4]]
    assert new.calls == [[2]]
    assert old.calls == [[1]]


def test_with_batching_off_each_request_calls_the_model_itself(settings):  # type: ignore[no-untyped-def]
    settings.ML_BATCHING = False
    model = CountingModel()
    model.gate.set()

    out = batching.rows_batched("m", model, [3, 4], model.predict)

    assert out.tolist() == [[3, 9], [4, 16]]
    assert batching.batchers_stats() == {}


def test_texts_embed_goes_through_the_embedder_batcher(monkeypatch):  # type: ignore[no-untyped-def]
    from apps.mlops import vectors

    class TinyEmbedder:
        def embed(self, texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), 4), dtype=np.float32)
            for i, text in enumerate(texts):
                out[i, len(text) % 4] = 1.0
            return out

    tiny = TinyEmbedder()
    monkeypatch.setattr(vectors, "embedder_get", lambda: tiny)

    with ThreadPoolExecutor(max_workers=8) as pool:
        rows = list(pool.map(lambda t: vectors.texts_embed([t]), ["a", "bb", "ccc", "dddd"]))

    assert [int(r[0].argmax()) for r in rows] == [1, 2, 3, 0]
    assert all(r.dtype == np.float32 for r in rows)
    assert "embedder" in batching.batchers_stats()
