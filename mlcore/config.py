from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MLConfig:
    """Plain settings handed to mlcore by whoever hosts it (Django, a worker, a benchmark)."""

    model_dir: Path
    index_dir: Path
    device: str = "auto"
    embed_batch_size: int = 64
    torch_threads: int = 0


def resolve_device(device: str = "auto") -> str:
    """'auto' becomes 'cuda' when torch sees a GPU, else 'cpu'."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
