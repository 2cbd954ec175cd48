"""What one fine-tuning run takes and gives: its settings, progress events, result, data split."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..serving.device import TRAIN_PRECISIONS
from .model import TextClassifier


class TrainingCancelled(Exception):
    """Raised inside `fit` when `should_stop` returns True."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one fine-tuning run."""

    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 64
    val_fraction: float = 0.1
    patience: int = 2
    seed: int = 42
    eval_batch_size: int = 128
    max_steps: int | None = None
    pooling: str = "mean"  # "mean": head on mean-pooled tokens; "cls": the transformer's pooler
    # The 30k-row token embedding table is a third of MiniLM's weights: updating it costs
    # time on every step and rarely helps a classifier trained on a few thousand texts.
    freeze_word_embeddings: bool = True
    # The new linear head learns this many times faster than the pretrained encoder.
    head_lr_multiplier: float = 1.0
    # "centroids" (mean pooling only): start the head from each label's mean sentence embedding
    # under the base encoder, a nearest-centroid classifier, instead of random weights.
    head_init: str = "random"
    # > 0 (mean pooling only): keep the training texts' fine-tuned embeddings and mix a
    # k-nearest-neighbour vote into the head's probabilities; the mix weight is chosen on the
    # validation split (0 when neighbours do not help), then validation texts join the memory.
    neighbours_k: int = 0
    neighbours_temperature: float = 0.05
    # > 1 (mean pooling only): train this many members with seeds seed, seed+1, ... and serve
    # their averaged predictions as one model (inference costs scale with the count).
    ensemble: int = 1
    # With `soft_targets` given to `fit` (a teacher's probabilities, e.g. an ensemble's): the
    # training target is (1 - w) * the one-hot label + w * the teacher's distribution.
    distil_weight: float = 0.5
    # < 1: layer-wise learning-rate decay; the top transformer layer trains at the full rate,
    # each layer below at this factor of the one above, the embeddings lowest.
    layer_lr_decay: float = 1.0
    # > 0: adversarial training (FGM); a second pass per batch with the embedding layer's output
    # moved this far (L2 norm per text) up the loss gradient, its gradients added to the first's.
    adversarial_eps: float = 0.0
    # "auto": bf16 mixed precision where the device computes bf16 natively (a CUDA GPU with
    # bf16, a CPU with AMX or AVX-512 BF16), fp32 elsewhere; "fp32": always fp32.
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}")
        if self.adversarial_eps < 0:
            raise ValueError(f"adversarial_eps must be >= 0, got {self.adversarial_eps}")
        if self.precision not in TRAIN_PRECISIONS:
            raise ValueError(f"precision must be one of {TRAIN_PRECISIONS}, got {self.precision!r}")


@dataclass(frozen=True)
class ProgressEvent:
    """What a running fit reports after each step and each epoch."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float
    val_macro_f1: float | None = None
    val_accuracy: float | None = None
    phase: str = "step"


@dataclass
class TrainResult:
    """The fitted classifier, its validation metrics and per-epoch history."""

    classifier: TextClassifier
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's random generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def stratified_split(
    labels: Sequence[str], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices (train, held-out) with about `fraction` of each label held out."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train: list[int] = []
    held: list[int] = []
    for idx in by_label.values():
        perm = rng.permutation(idx).tolist()
        n_held = round(len(perm) * fraction) if len(perm) > 1 else 0
        held += perm[:n_held]
        train += perm[n_held:]
    return sorted(train), sorted(held)


def validation_split(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    soft_targets: npt.NDArray[np.float32] | None = None,
) -> tuple[list[str], list[str], list[str], list[str], npt.NDArray[np.float32] | None]:
    """(train texts, train labels, validation texts, validation labels, train soft targets)."""
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    return (
        [texts[i] for i in train_idx],
        [labels[i] for i in train_idx],
        [texts[i] for i in val_idx],
        [labels[i] for i in val_idx],
        soft_targets[train_idx] if soft_targets is not None else None,
    )
