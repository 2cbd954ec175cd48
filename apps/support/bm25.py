"""Okapi BM25 over an in-memory inverted index (built once per content version)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class BM25:
    """Each term's postings hold precomputed per-document weights, so a query is a few adds."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avgdl = float(lengths.mean()) if self.n else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for row, doc in enumerate(docs):
            for term, count in Counter(doc).items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(row)
                tfs.append(count)
        self.postings: dict[str, tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]] = {}
        for term, (rows, tfs) in postings.items():
            df = len(rows)
            idf = math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))
            idx = np.array(rows, dtype=np.int32)
            tf = np.array(tfs, dtype=np.float32)
            norm = k1 * (1.0 - b + b * lengths[idx] / max(avgdl, 1e-9))
            self.postings[term] = (idx, (idf * tf * (k1 + 1.0) / (tf + norm)).astype(np.float32))

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros(self.n, dtype=np.float32)
        for term in set(query):
            posting = self.postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
        return out

    def search(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (row, score) with a positive score, best first."""
        if not self.n or k <= 0:
            return []
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(i), float(scores[i])) for i in order]
