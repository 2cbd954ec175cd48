"""FAISS vector index with caller ids, atomic versioned saves and hot swaps.

The vectors themselves are kept beside the FAISS structure, so the index can be rebuilt in
another form (exact or approximate, CPU or GPU) and removals never need FAISS support.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .types import Hit

EXACT_MAX = 20_000  # below this many vectors brute force is both exact and fast
FORMAT_VERSION = 1
# OpenMP threads cost more than they give on a handful of queries (and collapse when the cores are
# busy with other work), so small searches run single-threaded.
SMALL_BATCH = 16
_default_threads: int | None = None


def _set_threads(n_queries: int) -> None:
    import faiss

    global _default_threads
    if _default_threads is None:
        _default_threads = int(faiss.omp_get_max_threads())
    faiss.omp_set_num_threads(1 if n_queries < SMALL_BATCH else _default_threads)


def gpu_count() -> int:
    import faiss

    try:
        return int(faiss.get_num_gpus())
    except AttributeError:  # faiss-cpu builds without the GPU symbols
        return 0


class VectorIndex:
    """Inner-product search over unit vectors with int64 ids: add, remove, search, save, load."""

    def __init__(
        self,
        dim: int,
        *,
        exact_max: int = EXACT_MAX,
        hnsw_m: int = 32,
        ef_search: int = 128,
        use_gpu: bool | None = None,
    ) -> None:
        self.dim = dim
        self.exact_max = exact_max
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.use_gpu = use_gpu
        self.version = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._row: dict[int, int] = {}
        self._faiss: Any = None
        self._dirty = True
        self._lock = threading.RLock()

    # -- state -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    @property
    def kind(self) -> str:
        """'flat' (exact) or 'hnsw' (approximate), chosen by size; '+gpu' when on a GPU."""
        base = "flat" if len(self) <= self.exact_max else "hnsw"
        return base + ("+gpu" if self._on_gpu() and base == "flat" else "")

    def ids(self) -> npt.NDArray[np.int64]:
        return self._ids.copy()

    def vector(self, item_id: int) -> npt.NDArray[np.float32] | None:
        row = self._row.get(int(item_id))
        return None if row is None else self._vectors[row].copy()

    # -- writes ------------------------------------------------------------------------------
    def add(self, ids: Sequence[int] | npt.NDArray[np.int64], vectors: npt.ArrayLike) -> None:
        """Add vectors; an id that is already present is replaced."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        if len(ids_arr) != len(vecs):
            raise ValueError(f"{len(ids_arr)} ids for {len(vecs)} vectors")
        if len(set(ids_arr.tolist())) != len(ids_arr):
            raise ValueError("duplicate ids in one add")
        with self._lock:
            self.remove([i for i in ids_arr.tolist() if i in self._row])
            start = len(self._ids)
            self._ids = np.concatenate([self._ids, ids_arr])
            self._vectors = np.concatenate([self._vectors, vecs])
            for offset, item_id in enumerate(ids_arr.tolist()):
                self._row[item_id] = start + offset
            self._dirty = True
            self.version += 1

    def remove(self, ids: Iterable[int]) -> int:
        """Remove ids (unknown ids are ignored); returns how many were removed."""
        with self._lock:
            rows = [self._row[i] for i in map(int, ids) if i in self._row]
            if not rows:
                return 0
            keep = np.ones(len(self._ids), dtype=bool)
            keep[rows] = False
            self._ids = self._ids[keep]
            self._vectors = self._vectors[keep]
            self._row = {item_id: row for row, item_id in enumerate(self._ids.tolist())}
            self._dirty = True
            self.version += 1
            return len(rows)

    # -- search ------------------------------------------------------------------------------
    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        *,
        allowed_ids: Iterable[int] | None = None,
    ) -> list[list[Hit]]:
        """Top-k hits per query row, optionally restricted to `allowed_ids`."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, self.dim))
        with self._lock:
            if len(self) == 0 or k <= 0:
                return [[] for _ in range(len(q))]
            index = self._built()
            params = None
            k_eff = min(k, len(self))
            if allowed_ids is not None:
                import faiss as faiss_module

                faiss: Any = faiss_module  # the stubs lack the search-parameter classes
                allowed = np.fromiter((int(i) for i in allowed_ids), dtype=np.int64)
                allowed = allowed[np.isin(allowed, self._ids)]
                if len(allowed) == 0:
                    return [[] for _ in range(len(q))]
                k_eff = min(k, len(allowed))
                if self._on_gpu() or len(allowed) <= 4 * k_eff + 64:
                    return self._search_subset(q, allowed, k_eff)
                selector = faiss.IDSelectorBatch(allowed)
                if self._is_hnsw(index):
                    params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search)
                else:
                    params = faiss.SearchParameters(sel=selector)
            _set_threads(len(q))
            scores, rows = index.search(q, k_eff, params=params)
        return [
            [Hit(id=int(r), score=float(s)) for s, r in zip(srow, rrow) if r >= 0]
            for srow, rrow in zip(scores, rows)
        ]

    def _search_subset(
        self, q: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64], k: int
    ) -> list[list[Hit]]:
        rows = np.array([self._row[int(i)] for i in allowed], dtype=np.int64)
        scores = q @ self._vectors[rows].T
        top = np.argsort(-scores, axis=1)[:, :k]
        return [
            [Hit(id=int(allowed[j]), score=float(scores[n, j])) for j in top[n]]
            for n in range(len(q))
        ]

    # -- FAISS structure -----------------------------------------------------------------------
    def _on_gpu(self) -> bool:
        if self.use_gpu is False:
            return False
        return gpu_count() > 0

    @staticmethod
    def _is_hnsw(index: Any) -> bool:
        import faiss

        inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
        return isinstance(inner, faiss.IndexHNSW)

    def _built(self) -> Any:
        if not self._dirty and self._faiss is not None:
            return self._faiss
        import faiss

        if len(self) <= self.exact_max:
            inner: Any = faiss.IndexFlatIP(self.dim)
            if self._on_gpu():
                # Brute force on the GPU; the id map stays a thin CPU wrapper around it.
                inner = faiss.index_cpu_to_all_gpus(inner)
        else:
            inner = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.ef_search
        index: Any = faiss.IndexIDMap2(inner)
        index.add_with_ids(self._vectors, self._ids)
        self._faiss = index
        self._dirty = False
        return index

    def build(self) -> VectorIndex:
        """Build the FAISS structure now (instead of on the first search); returns self."""
        with self._lock:
            self._built()
        return self

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ids, vectors and metadata to one .npz file atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            meta = {
                "format": FORMAT_VERSION,
                "dim": self.dim,
                "version": self.version,
                "exact_max": self.exact_max,
                "count": len(self),
            }
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(
                        fh,
                        ids=self._ids,
                        vectors=self._vectors,
                        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                    )
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return path

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> VectorIndex:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"unsupported index format {meta.get('format')}")
            kwargs.setdefault("exact_max", meta.get("exact_max", EXACT_MAX))
            index = cls(int(meta["dim"]), **kwargs)
            index._ids = data["ids"].astype(np.int64)
            index._vectors = data["vectors"].astype(np.float32)
        index._row = {item_id: row for row, item_id in enumerate(index._ids.tolist())}
        index.version = int(meta["version"])
        index._dirty = True
        return index


class IndexHandle:
    """Holds the index that readers use; a rebuilt index replaces it in one reference swap.

    Readers call `current()` and keep using what they got, so a rebuild in another thread never
    blocks or disturbs a search in flight.
    """

    def __init__(self, index: VectorIndex | None = None) -> None:
        self._index = index
        self._lock = threading.Lock()

    def current(self) -> VectorIndex | None:
        return self._index

    def swap(self, index: VectorIndex) -> VectorIndex | None:
        index.build()
        with self._lock:
            old, self._index = self._index, index
        return old
