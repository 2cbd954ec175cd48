"""TSDAE: rebuild each text from the sentence embedding of a damaged copy (sentence-transformers'
DenoisingAutoEncoderLoss, a decoder tied to the encoder), so what is learnt is the sentence
vector itself."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

from ..classifier.run import TrainingCancelled
from ..serving.device import autocast
from .run import AdaptConfig, AdaptProgress, ProgressHook, StopHook, method_get

# The paper's best noise: delete 60% of the words.
DELETE_RATIO = 0.6


def words_delete(text: str, rng: random.Random) -> str:
    """`text` with about 60% of its words deleted, at least one kept."""
    words = text.split()
    if not words:
        return text
    kept = [w for w in words if rng.random() >= DELETE_RATIO]
    return " ".join(kept) if kept else rng.choice(words)


def _loss_on(loss: Any, model: Any, texts: Sequence[str], rng: random.Random, device: str) -> Any:
    damaged = [words_delete(t, rng) for t in texts]
    return loss([_features(model, damaged, device), _features(model, list(texts), device)], None)


def _features(model: Any, texts: list[str], device: str) -> dict[str, Any]:
    # sentence-transformers' tokenize also returns non-tensor entries; only tensors move.
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in model.tokenize(texts).items()}


def reconstruction_loss_held_out(
    loss: Any, model: Any, texts: Sequence[str], config: AdaptConfig, device: str
) -> float:
    """Mean reconstruction loss over `texts` with a fixed damage (same seed on every call)."""
    import torch

    rng = random.Random(config.seed + 1)
    total, count = 0.0, 0
    loss.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            chunk = texts[start : start + 64]
            total += float(_loss_on(loss, model, chunk, rng, device)) * len(chunk)
            count += len(chunk)
    return total / max(count, 1)


def tsdae_train(
    texts: Sequence[str],
    held_out: Sequence[str],
    *,
    base: str,
    config: AdaptConfig,
    device: str,
    progress: ProgressHook | None = None,
    should_stop: StopHook | None = None,
) -> tuple[Any, dict[str, float], list[dict[str, Any]]]:
    """Train `base` with TSDAE. Returns (the adapted encoder module, held-out metrics, history)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    torch.manual_seed(config.seed)
    model = SentenceTransformer(base, device=device)
    model.max_seq_length = config.max_length
    encoder: Any = model.transformers_model
    config_name = encoder.config.model_type
    if config_name != "bert":
        raise ValueError(f"TSDAE needs a BERT-type base (MiniLM); this base is {config_name}")
    loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True).to(device)
    before = reconstruction_loss_held_out(loss, model, held_out, config, device)
    optimiser = torch.optim.AdamW(
        [p for p in loss.parameters() if p.requires_grad],
        lr=method_get(config.method).learning_rate,
    )
    total = math.ceil(len(texts) / config.batch_size) * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    rng = random.Random(config.seed)
    order = list(range(len(texts)))
    history: list[dict[str, Any]] = []
    started = time.monotonic()
    step = 0
    loss.train()
    while step < total:
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if step >= total:
                break
            if should_stop is not None and should_stop():
                raise TrainingCancelled("adaptation stopped")
            with autocast(device, training=True):  # bf16 where the device has it natively
                value = _loss_on(
                    loss,
                    model,
                    [texts[i] for i in order[start : start + config.batch_size]],
                    rng,
                    device,
                )
            value.backward()
            optimiser.step()
            optimiser.zero_grad()
            step += 1
            history.append({"step": step, "reconstruction_loss": round(float(value.detach()), 4)})
            if progress is not None:
                elapsed = time.monotonic() - started
                progress(
                    AdaptProgress(
                        step, total, float(value.detach()), elapsed, elapsed / step * (total - step)
                    )
                )
    after = reconstruction_loss_held_out(loss, model, held_out, config, device)
    metrics = {
        "held_out_reconstruction_loss_base": round(before, 4),
        "held_out_reconstruction_loss": round(after, 4),
    }
    return encoder, metrics, history
