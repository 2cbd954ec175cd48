"""Where mlcore's models run."""

from __future__ import annotations


def resolve_device(device: str = "auto") -> str:
    """'auto' becomes 'cuda' when torch sees a GPU, else 'cpu'."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
