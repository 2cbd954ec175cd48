"""Adapt an encoder to unlabelled text with one of the methods, save it as a base model folder
(safetensors + tokenizer + adapt.json) and measure how far its sentence vectors moved."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base_models import base_model_path, offline
from ..config import resolve_device
from ..embedder import Embedder
from ..serving.device import training_precision
from .corpus import corpus_hash, corpus_split, texts_clean
from .objectives import mlm_keep_train
from .run import AdaptConfig, AdaptResult, ProgressHook, StopHook
from .tsdae import tsdae_train

ADAPT_FILE = "adapt.json"
# Fewer texts than this leave nothing worth adapting to (and too few to hold out).
MIN_TEXTS = 20


def encoder_cosine(base: str | Path, adapted: str | Path, texts: Sequence[str]) -> dict[str, float]:
    """How close the adapted encoder's sentence vectors stay to the base's on `texts`: the mean
    and the 5th percentile of the per-text cosine."""
    first = Embedder(base, device="cpu").embed(list(texts))
    second = Embedder(adapted, device="cpu").embed(list(texts))
    cosines = (first * second).sum(axis=1)
    return {
        "cosine_to_base": round(float(cosines.mean()), 4),
        "cosine_to_base_p05": round(float(np.percentile(cosines, 5)), 4),
    }


def corpus_ready(texts: Sequence[str]) -> list[str]:
    """`texts` cleaned and deduplicated (texts_clean); ValueError when too few are left to
    adapt on."""
    corpus = texts_clean(texts)
    if len(corpus) < MIN_TEXTS:
        raise ValueError(
            f"{len(corpus)} distinct texts are too few to adapt on (at least {MIN_TEXTS})"
        )
    return corpus


def adapt(
    texts: Sequence[str],
    *,
    out_dir: str | Path,
    base_model: str | Path | None = None,
    config: AdaptConfig | None = None,
    device: str = "auto",
    progress: ProgressHook | None = None,
    should_stop: StopHook | None = None,
) -> AdaptResult:
    """Adapt `base_model` (default MiniLM) to `texts` with `config.method` and save the encoder
    at `out_dir` (written beside it and renamed: a reader never sees half a model). ValueError
    when the corpus is too small or the method does not fit the base."""
    offline()
    config = config or AdaptConfig()
    corpus = corpus_ready(texts)
    train, held_out = corpus_split(corpus, held_out=config.held_out, seed=config.seed)
    base = str(base_model or base_model_path())
    dev = resolve_device(device)
    encoder: Any
    if config.method == "tsdae":
        encoder, metrics, history = tsdae_train(
            train,
            held_out,
            base=base,
            config=config,
            device=dev,
            progress=progress,
            should_stop=should_stop,
        )
    else:
        encoder, metrics, history = mlm_keep_train(
            train,
            held_out,
            base=base,
            config=config,
            device=dev,
            lora=config.method == "lora",
            progress=progress,
            should_stop=should_stop,
        )
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = corpus_hash(corpus)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / "encoder"
        _encoder_save(encoder, base, staged)
        report: dict[str, Any] = {
            **metrics,
            **encoder_cosine(base, staged, held_out),
            "held_out_size": len(held_out),
            "train_size": len(train),
            "steps": len(history),
            "train_precision": training_precision(dev),
        }
        (staged / ADAPT_FILE).write_text(
            json.dumps(
                {"method": config.method, "base": base, "corpus_hash": digest, "metrics": report},
                indent=2,
            )
        )
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    return AdaptResult(out, config.method, report, digest, len(train), history)


def _encoder_save(encoder: Any, base: str, path: Path) -> None:
    """The adapted weights in the base's own architecture (pooler included), as safetensors,
    with the base's tokenizer: any loader of a plain transformers folder reads it."""
    from transformers import AutoModel, AutoTokenizer

    full = AutoModel.from_pretrained(base, use_safetensors=True)
    missing, unexpected = full.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or [name for name in missing if not name.startswith("pooler.")]:
        raise ValueError(f"adapted weights do not fit the base: {unexpected or missing}")
    full.save_pretrained(str(path), safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(str(path))


def adapt_info(path: str | Path) -> dict[str, Any]:
    """What adapt.json says about an adapted encoder folder ({} for a plain base)."""
    file = Path(path) / ADAPT_FILE
    info: dict[str, Any] = json.loads(file.read_text()) if file.is_file() else {}
    return info
