"""Training objectives that adapt an encoder: masked-language modelling with a term keeping the
base's sentence embeddings (fully or through LoRA adapters), and their held-out losses."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

from ..classifier.run import TrainingCancelled
from ..serving.device import autocast
from .run import AdaptConfig, AdaptProgress, ProgressHook, StopHook, method_get

MASK_PROBABILITY = 0.15
# Weight of (1 - cosine to the frozen base's sentence embedding) beside the MLM loss. The MLM
# loss is a few nats; a drift of 0.1 in cosine then costs as much as a nat of MLM loss.
KEEP_WEIGHT = 10.0
LORA_RANK = 8
# The attention's query and value weights by architecture (BERT's names otherwise).
LORA_TARGETS = {"mpnet": ["q", "v"]}


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the token vectors where the mask is 1: how MiniLM makes a sentence embedding."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def tokens_mask(input_ids: Any, special: Any, tokenizer: Any, generator: Any) -> tuple[Any, Any]:
    """BERT's masking: 15% of the real tokens are predicted; of those 80% become [MASK], 10% a
    random token, 10% stay. Returns (inputs, labels with -100 where nothing is predicted)."""
    import torch

    labels = input_ids.clone()
    chance = torch.full(input_ids.shape, MASK_PROBABILITY)
    chance.masked_fill_(special, 0.0)
    picked = torch.bernoulli(chance, generator=generator).bool()
    labels[~picked] = -100
    inputs = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(input_ids.shape, 0.8), generator=generator).bool()
    inputs[picked & to_mask] = tokenizer.mask_token_id
    to_random = torch.bernoulli(torch.full(input_ids.shape, 0.5), generator=generator).bool()
    swap = picked & ~to_mask & to_random
    random_ids = torch.randint(len(tokenizer), input_ids.shape, generator=generator)
    inputs[swap] = random_ids[swap]
    return inputs, labels


def _batch(tokenizer: Any, texts: Sequence[str], config: AdaptConfig) -> Any:
    return tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=config.max_length,
        return_tensors="pt",
        return_special_tokens_mask=True,
    )


def lora_wrap(mlm: Any) -> Any:
    """`mlm` with LoRA adapters on its attention's query and value weights (named per
    architecture: BERT's query/value, MPNet's q/v); its MLM head's transform trains in full."""
    # heavy: peft imports torch, transformers and accelerate
    from peft import LoraConfig, get_peft_model

    targets = LORA_TARGETS.get(mlm.config.model_type, ["query", "value"])
    model = get_peft_model(
        mlm,
        LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.1, target_modules=targets),
    )
    # The MLM head's transform was never trained for a sentence encoder (MiniLM, mpnet): it
    # learns in full beside the adapters; it is not part of the saved encoder.
    for name, param in model.named_parameters():
        if any(head in name for head in (".predictions.", ".lm_head.")) and "decoder" not in name:
            param.requires_grad_(True)
    return model


def _encoder_of(mlm: Any) -> Any:
    return getattr(mlm, mlm.base_model_prefix)


def mlm_loss_held_out(mlm: Any, tokenizer: Any, texts: Sequence[str], config: AdaptConfig) -> float:
    """Mean masked-token cross-entropy over `texts`, with a fixed masking (same seed each call),
    so the base and the adapted model are scored on the same masked tokens."""
    import torch

    generator = torch.Generator().manual_seed(config.seed + 1)
    device = next(mlm.parameters()).device
    total, count = 0.0, 0
    mlm.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            enc = _batch(tokenizer, texts[start : start + 64], config)
            special = enc.pop("special_tokens_mask").bool() | (enc["attention_mask"] == 0)
            inputs, labels = tokens_mask(enc["input_ids"], special, tokenizer, generator)
            enc["input_ids"] = inputs
            logits = mlm(**{k: v.to(device) for k, v in enc.items()}).logits
            n = int((labels != -100).sum())
            if n:
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), labels.to(device).reshape(-1)
                )
                total += float(loss) * n
                count += n
    return total / max(count, 1)


def mlm_keep_train(
    texts: Sequence[str],
    held_out: Sequence[str],
    *,
    base: str,
    config: AdaptConfig,
    device: str,
    lora: bool,
    progress: ProgressHook | None = None,
    should_stop: StopHook | None = None,
) -> tuple[Any, dict[str, float], list[dict[str, Any]]]:
    """Train `base` with the MLM + keep objective (all weights, or LoRA adapters merged at the
    end). Returns (the adapted encoder module, held-out metrics, loss history)."""
    import torch
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    mlm = AutoModelForMaskedLM.from_pretrained(base, use_safetensors=True).to(device)
    frozen = AutoModel.from_pretrained(base, use_safetensors=True).to(device).eval()
    frozen.requires_grad_(False)
    before = mlm_loss_held_out(mlm, tokenizer, held_out, config)
    model: Any = mlm
    if lora:
        model = lora_wrap(mlm)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=method_get(config.method).learning_rate)
    history = _loop(
        model, frozen, tokenizer, texts, config, optimiser, device, progress, should_stop
    )
    if lora:
        model = model.merge_and_unload()
    after = mlm_loss_held_out(model, tokenizer, held_out, config)
    metrics = {
        "held_out_mlm_loss_base": round(before, 4),
        "held_out_mlm_loss": round(after, 4),
        "held_out_perplexity_base": round(math.exp(min(before, 50.0)), 2),
        "held_out_perplexity": round(math.exp(min(after, 50.0)), 2),
    }
    return _encoder_of(model), metrics, history


def _loop(
    model: Any,
    frozen: Any,
    tokenizer: Any,
    texts: Sequence[str],
    config: AdaptConfig,
    optimiser: Any,
    device: str,
    progress: ProgressHook | None,
    should_stop: StopHook | None,
) -> list[dict[str, Any]]:
    import torch

    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    generator = torch.Generator().manual_seed(config.seed)
    order = list(range(len(texts)))
    history: list[dict[str, Any]] = []
    started = time.monotonic()
    step = 0
    model.train()
    while step < total:
        random.Random(config.seed + step).shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if step >= total:
                break
            if should_stop is not None and should_stop():
                raise TrainingCancelled("adaptation stopped")
            enc = _batch(
                tokenizer, [texts[i] for i in order[start : start + config.batch_size]], config
            )
            special = enc.pop("special_tokens_mask").bool() | (enc["attention_mask"] == 0)
            enc = {k: v.to(device) for k, v in enc.items()}
            inputs, labels = tokens_mask(
                enc["input_ids"].cpu(), special.cpu(), tokenizer, generator
            )
            with autocast(device, training=True):  # bf16 where the device has it natively
                out = model(
                    input_ids=inputs.to(device),
                    attention_mask=enc["attention_mask"],
                    labels=labels.to(device),
                )
                plain = _encoder_of(model)(**enc).last_hidden_state
                with torch.no_grad():
                    target = mean_pool(frozen(**enc).last_hidden_state, enc["attention_mask"])
            pooled = mean_pool(plain.float(), enc["attention_mask"])
            keep = (1 - torch.nn.functional.cosine_similarity(pooled, target.float())).mean()
            loss = out.loss.float() + KEEP_WEIGHT * keep
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            step += 1
            history.append(
                {
                    "step": step,
                    "mlm_loss": round(float(out.loss.detach()), 4),
                    "keep": round(float(keep.detach()), 5),
                }
            )
            if progress is not None:
                elapsed = time.monotonic() - started
                progress(
                    AdaptProgress(
                        step, total, float(loss.detach()), elapsed, elapsed / step * (total - step)
                    )
                )
    return history
