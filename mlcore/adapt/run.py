"""What one adaptation run takes and gives: its method, settings, progress events and result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AdaptMethod:
    """A named way to adapt an encoder; its learning rate is part of the method, not a knob."""

    name: str
    title: str
    learning_rate: float


METHODS: dict[str, AdaptMethod] = {
    m.name: m
    for m in (
        AdaptMethod(
            "mlm-keep",
            "Masked-language-model pretraining at a small learning rate, plus a term keeping "
            "each text's sentence embedding close to the frozen base's",
            2e-5,
        ),
        AdaptMethod(
            "tapt",
            "Task-adaptive pretraining (Gururangan et al. 2020): mlm-keep on the task's own texts",
            2e-5,
        ),
        AdaptMethod(
            "tsdae",
            "TSDAE (Wang et al. 2021): rebuild each text from the sentence embedding of a copy "
            "with 60% of its words deleted (sentence-transformers' DenoisingAutoEncoderLoss)",
            3e-5,
        ),
        AdaptMethod(
            "lora",
            "LoRA adapters (rank 8) on the attention query/value weights, trained with the "
            "mlm-keep objective and merged into the encoder",
            5e-4,
        ),
    )
}
# mlm-keep keeps the sentence vectors (cosine to MiniLM 0.99 or more, as tapt and lora do, in
# bench adapt's run of 2026-12-06T18:06, bench/RESULTS.md) and reads the app's own texts, which
# tapt does not; TSDAE moved them far (cosine 0.36) and lost intent and hit@k. No method gained
# PhraseBank there, so the gate decides per app.
DEFAULT_METHOD = "mlm-keep"


def method_get(name: str) -> AdaptMethod:
    """The method called `name`; ValueError naming the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"unknown adaptation method {name!r}: one of {', '.join(METHODS)}"
        ) from None


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of one adaptation run (the learning rate comes with the method)."""

    method: str = DEFAULT_METHOD
    epochs: int = 1
    batch_size: int = 16
    max_length: int = 64
    max_steps: int | None = None
    held_out: int = 500
    seed: int = 42

    def __post_init__(self) -> None:
        method_get(self.method)
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 8:
            raise ValueError("epochs and batch_size must be >= 1 and max_length >= 8")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")


@dataclass(frozen=True)
class AdaptProgress:
    """What a running adaptation reports after each step."""

    step: int
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float


ProgressHook = Callable[[AdaptProgress], None]
StopHook = Callable[[], bool]


@dataclass(frozen=True)
class AdaptResult:
    """An adapted encoder saved at `path`, with the run's held-out metrics and loss history."""

    path: Path
    method: str
    metrics: dict[str, Any]
    corpus_hash: str
    train_size: int
    history: list[dict[str, Any]] = field(default_factory=list)
