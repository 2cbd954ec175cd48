"""The parts of one training step: batches of similar length, the optimiser's parameter groups,
the loss, and the FGM adversary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .run import TrainConfig


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, generator: Any
) -> list[list[int]]:
    """Shuffled batches of similar-length texts: far less padding, same randomness per epoch.

    Indices are shuffled, cut into pools of 50 batches, sorted by length within each pool, split
    into batches, and the batches shuffled again.
    """
    import torch

    perm = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * 50
    if len(perm) < 2 * pool:
        # Small sets: sorting would make batches uniform in length and often in label too.
        return [perm[i : i + batch_size] for i in range(0, len(perm), batch_size)]
    batches: list[list[int]] = []
    for start in range(0, len(perm), pool):
        chunk = sorted(perm[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def batch_pad(tokenizer: Any, enc: Any, idx: list[int], dev: str) -> Any:
    """The tokenized texts at `idx` padded into one batch of tensors on `dev`."""
    return tokenizer.pad(
        {
            "input_ids": [enc["input_ids"][i] for i in idx],
            "attention_mask": [enc["attention_mask"][i] for i in idx],
            **(
                {"token_type_ids": [enc["token_type_ids"][i] for i in idx]}
                if "token_type_ids" in enc
                else {}
            ),
        },
        return_tensors="pt",
    ).to(dev)


def _layer_depth(name: str, n_layers: int) -> int:
    """0 for the embeddings, i + 1 for transformer layer i, n_layers for anything above."""
    if ".embeddings." in f".{name}":
        return 0
    marker = ".layer."
    if marker in name:
        return int(name.split(marker, 1)[1].split(".", 1)[0]) + 1
    return n_layers


def param_groups(model: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and LayerNorm weights, the head's learning-rate
    multiplier, and layer-wise decay below the top layer when `config.layer_lr_decay` < 1."""
    no_decay = ("bias", "LayerNorm.weight")
    head_prefix = "classifier."
    encoder_config = model.config if hasattr(model, "config") else model.encoder.config
    n_layers = int(encoder_config.num_hidden_layers)
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith(head_prefix):
            lr = config.learning_rate * config.head_lr_multiplier
        else:
            depth = _layer_depth(name, n_layers)
            lr = config.learning_rate * config.layer_lr_decay ** (n_layers - depth)
        decay = 0.0 if any(x in name for x in no_decay) else config.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    return [
        {"params": params, "lr": lr, "weight_decay": decay}
        for (lr, decay), params in groups.items()
    ]


def batch_loss(model: Any, batch: Any, idx: list[int], y: Any, targets: Any) -> Any:
    """Cross-entropy on the hard labels, or on the soft targets when distilling."""
    from torch.nn import functional

    logits = model(**batch).logits
    if targets is not None:
        return functional.cross_entropy(logits, targets[idx].to(logits.device))
    return functional.cross_entropy(logits, y[idx].to(logits.device))


class EmbeddingAdversary:
    """FGM: remembers the embedding layer's output in a training pass, then, after the
    backward pass, shifts it by eps times its gradient's direction (per text) for one more."""

    def __init__(self, module: Any, eps: float) -> None:
        self.eps = eps
        self.output: Any = None
        self.delta: Any = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: Any, inputs: Any, output: Any) -> Any:
        if self.delta is not None:
            return output + self.delta
        if module.training and output.requires_grad:
            output.retain_grad()
            self.output = output
        return None

    def perturb(self) -> None:
        grad = self.output.grad if self.output is not None else None
        if grad is None:
            return
        norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *([1] * (grad.dim() - 1)))
        self.delta = (self.eps * grad / norm).detach()
        self.output = None

    def clear(self) -> None:
        self.delta = None

    def remove(self) -> None:
        self.handle.remove()
