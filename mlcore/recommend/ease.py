"""Collaborative item-to-item weights: EASE (Steck 2019) in closed form, co-occurrence above."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class CollabModel:
    """Item-to-item weights: EASE (closed form) for catalogs that fit, top-k co-occurrence above.

    Stored either dense (n x n) or as the top `keep` neighbours of every item.
    """

    item_ids: np.ndarray
    dense: np.ndarray | None = None
    nbr_idx: np.ndarray | None = None
    nbr_val: np.ndarray | None = None
    row: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row = {int(i): n for n, i in enumerate(self.item_ids.tolist())}

    @classmethod
    def empty(cls) -> CollabModel:
        return cls(item_ids=np.zeros(0, dtype=np.int64), dense=np.zeros((0, 0), np.float32))

    def __len__(self) -> int:
        return len(self.item_ids)

    def scores(self, history: dict[int, float]) -> np.ndarray:
        """Scores of every item in `item_ids` for a weighted history {item_id: weight}."""
        rows = [(self.row[i], w) for i, w in history.items() if i in self.row]
        out = np.zeros(len(self.item_ids), dtype=np.float32)
        if not rows:
            return out
        idx = np.array([r for r, _ in rows])
        weights = np.array([w for _, w in rows], dtype=np.float32)
        if self.dense is not None:
            dense_scores: np.ndarray = weights @ self.dense[idx]
            return dense_scores
        assert self.nbr_idx is not None and self.nbr_val is not None
        np.add.at(out, self.nbr_idx[idx].ravel(), (self.nbr_val[idx] * weights[:, None]).ravel())
        return out

    def pair(self, source: int, target: int) -> float:
        a, b = self.row.get(source), self.row.get(target)
        if a is None or b is None:
            return 0.0
        if self.dense is not None:
            return float(self.dense[a, b])
        assert self.nbr_idx is not None and self.nbr_val is not None
        hit = np.nonzero(self.nbr_idx[a] == b)[0]
        return float(self.nbr_val[a, hit[0]]) if len(hit) else 0.0

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"item_ids": self.item_ids}
        if self.dense is not None:
            arrays["dense"] = self.dense
        else:
            assert self.nbr_idx is not None and self.nbr_val is not None
            arrays["nbr_idx"], arrays["nbr_val"] = self.nbr_idx, self.nbr_val
        np.savez(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> CollabModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                item_ids=data["item_ids"].astype(np.int64),
                dense=data.get("dense", None),
                nbr_idx=data.get("nbr_idx", None),
                nbr_val=data.get("nbr_val", None),
            )


def interaction_matrix(
    rows: Iterable[tuple[Any, int, float]], item_ids: Sequence[int]
) -> tuple[np.ndarray, list[Any]]:
    """A dense user x item matrix from (user, item, weight) triples (weights summed, capped at 1
    per item after scaling so one shopper's repeated views do not dominate)."""
    col = {int(i): n for n, i in enumerate(item_ids)}
    users: dict[Any, int] = {}
    triples = []
    for user, item, weight in rows:
        if int(item) in col:
            triples.append((users.setdefault(user, len(users)), col[int(item)], weight))
    matrix = np.zeros((len(users), len(item_ids)), dtype=np.float32)
    for u, i, w in triples:
        matrix[u, i] += w
    np.minimum(matrix, 1.0, out=matrix)
    return matrix, list(users)


def ease_fit(matrix: np.ndarray, l2: float = 500.0) -> np.ndarray:
    """EASE (Steck 2019): B = I - P / diag(P) with P = (X'X + l2 I)^-1, zero diagonal."""
    x = matrix.astype(np.float64)
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)


def collab_fit(
    matrix: np.ndarray,
    item_ids: Sequence[int],
    *,
    l2: float = 500.0,
    keep: int = 100,
    dense_max: int = 4000,
) -> CollabModel:
    """EASE when the catalog is small enough for its n x n inverse, cosine co-occurrence above;
    rows are pruned to the `keep` strongest neighbours unless the whole matrix is kept."""
    ids = np.asarray(item_ids, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return CollabModel.empty()
    if n <= dense_max:
        weights = ease_fit(matrix, l2)
    else:
        counts = np.sqrt(np.maximum((matrix > 0).sum(axis=0), 1)).astype(np.float32)
        weights = (matrix.T @ matrix) / counts[:, None] / counts[None, :]
        np.fill_diagonal(weights, 0.0)
    if keep >= n:
        return CollabModel(item_ids=ids, dense=weights)
    idx = np.argpartition(-weights, keep, axis=1)[:, :keep]
    vals = np.take_along_axis(weights, idx, axis=1)
    return CollabModel(item_ids=ids, nbr_idx=idx.astype(np.int32), nbr_val=vals.astype(np.float32))
